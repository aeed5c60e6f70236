import type { Agent, AgentLimits } from '../agent/index.js';
import {
  KeelError,
  MAX_TIMER_MS,
  allFieldsOf,
  fieldFault,
  refuseUnknownFields,
  type Clock,
  type Redactor,
} from '../core/index.js';
import type { RunEvent, RunState, StoredEvent } from '../journal/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import type { Notifier } from '../notify/index.js';
import type { AlertNotifier, AlertRules, RunObserver } from '../observe/index.js';
import type { ApprovalDecisionEntry, ApprovalRecord, RunRecord, Store } from '../store/index.js';
import type { ToolPoliciesOptions } from '../tools/index.js';
import type { ModelRetryOptions } from './model-retry.js';
import type { ProviderLimits } from './provider-limits.js';
import type { ShadowResult } from './shadow-route.js';
import type { ToolCallInterceptor } from './tool-interception.js';
import type { RuntimeAuditOptions } from './housekeeping.js';
import type { RetentionOptions } from './retention.js';

/** What `createRuntime` takes: the store, the agents, and how runs are leased, retried, observed and approved. */
export interface RuntimeOptions {
  readonly store: Store;
  readonly agents: readonly Agent[];
  readonly clock?: Clock;
  /** Unique per process; defaults to host:pid:random. */
  readonly workerId?: string;
  /** A run whose worker stops heartbeating is claimable again after this long. */
  readonly leaseMs?: number;
  /**
   * Claims lost to dead workers after which the next claim (the watchdog's) ends the run
   * instead of executing it: `failed` (`worker_lost`), or `escalated` (`in_doubt`) when a call
   * that is not idempotent was started and never finished. Default 5.
   */
  readonly maxClaims?: number;
  /**
   * The most runs of an agent executing at once across every worker on the store, by agent
   * name (unset: no bound). Claims skip an agent at its bound and serve agents fewest-running
   * first, so a busy agent cannot starve the others. Runs started in-process with `run` are
   * not claimed and not bounded.
   */
  readonly maxConcurrentRuns?: Readonly<Record<string, number>> | undefined;
  readonly modelRetry?: Partial<ModelRetryOptions>;
  /**
   * Requests and tokens per minute by `provider` or `provider:modelId`, shared by every worker
   * on the store (a row per budget on PostgreSQL; in memory on SQLite): calls wait their turn
   * instead of drawing 429s, and a 429's `retry-after` pauses that budget for all workers.
   */
  readonly providerLimits?: ProviderLimits | undefined;
  /**
   * Resolves a `--model` string (e.g. `openai:gpt-4o-mini`) to an adapter. A run's model string
   * is its caller's input: an `invalid_config` thrown here reaches the caller as `invalid_input`.
   */
  readonly resolveModel?: ((spec: string, agent: Agent) => ModelAdapterV1) | undefined;
  /** Observes each committed event. Never awaited; must not throw. */
  readonly onEvent?: ((runId: string, event: RunEvent) => void) | undefined;
  /** Tuning of the tool policies (breaker sync interval, retry jitter source). */
  readonly toolPolicies?: Omit<ToolPoliciesOptions, 'store' | 'clock'> | undefined;
  /** Fed each committed event (trace export, alerts); their work never blocks a run. */
  readonly observers?: readonly RunObserver[] | undefined;
  /**
   * Judge each finished run against its agent's baseline and deliver the alerts it raises
   * (shorthand for an `alertMonitor` observer).
   */
  readonly alerts?:
    | { readonly notifier: AlertNotifier; readonly rules?: Partial<AlertRules> | undefined }
    | undefined;
  /** Human approvals of gated calls: who is told, and how often expiries are applied. */
  readonly approvals?: RuntimeApprovalOptions | undefined;
  /**
   * Decides per allowed call whether its tool runs, is served a result, or is suppressed
   * (evaluations and shadow runs, which must not touch the world). Default: every call runs.
   */
  readonly interceptToolCall?: ToolCallInterceptor | undefined;
  /**
   * Candidate versions of the agents, run only as shadow runs (matched by name and version);
   * a worker executes a shadow run only with its candidate loaded. `shadows.start` adds one.
   */
  readonly candidates?: readonly Agent[] | undefined;
  /**
   * The result a shadow run's suppressed call is given, in place of the default neutral one
   * (`{ shadow: true, executed: false, tool, effect, reason }`): e.g. a typed stand-in the
   * candidate's model can carry on with. It never makes the call run.
   */
  readonly shadowResult?: ShadowResult | undefined;
  /** Periodic signed checkpoints of the audit chain (see `keel audit checkpoint`). */
  readonly audit?: RuntimeAuditOptions | undefined;
  /**
   * Remove finished runs older than `olderThan` and everything derived from them, every
   * `everyMs`, in bounded batches (see `keel prune`). Unset: data is kept forever.
   */
  readonly retention?: RetentionOptions | undefined;
  /**
   * Patterns of secret text (`redactors.cardNumber`, `redactors.nationalId`, your own) replaced
   * by a salted digest in audit rows, with each tool's `secretFields`. The model and the tools
   * see the real values.
   */
  readonly redact?: readonly Redactor[] | undefined;
}

/** Whom a runtime tells about waiting calls, the decide link's base URL, and how often expiries apply. */
export interface RuntimeApprovalOptions {
  /** Tells the approver group when a gated call waits (webhook, Slack, email...). */
  readonly notifier?: Notifier | undefined;
  /** Base URL of the approval API (`keel serve`), for the decide link in notifications. */
  readonly baseUrl?: string | undefined;
  /** How often a worker applies due expiries. Default 1000 ms. */
  readonly sweepMs?: number | undefined;
  readonly onNotifyError?: ((approvalId: string, error: unknown) => void) | undefined;
  /** Every decision attempt, accepted or refused, once recorded (e.g. for an audit log). */
  readonly onDecision?: ((entry: ApprovalDecisionEntry) => void) | undefined;
}

/** Per-run options: a run id, a model string that overrides the agent's, tighter limits, a signal to cancel. */
export interface StartRunOptions {
  readonly runId?: string;
  /** A model string that overrides the agent's model for this run. */
  readonly model?: string | undefined;
  /**
   * The agent's limits, tightened or widened for this run. A `maxCostUsd` needs a priced model
   * (as on the agent): on a model without a known price the run is refused before it starts,
   * unless it is `'tokens-only'`.
   */
  readonly limits?: AgentLimits | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Called each time the run parks for a human, with the approvals it waits on. The run stays
   * durable meanwhile: if this process stops waiting, any worker resumes it after the decision.
   */
  readonly onWaiting?: ((approvals: readonly ApprovalRecord[]) => void) | undefined;
  /**
   * Start it as a shadow run of production run `of` in shadow `id` (what `replayRun` does to
   * repeat a shadow run): its agent must be among `candidates`, and none of its calls runs but
   * `read`s the interceptor lets run.
   */
  readonly shadow?: { readonly of: string; readonly id: string } | undefined;
}

/** Where a fork starts (the step) and which model it runs on. */
export interface ForkOptions {
  /** Steps before this one are reused from the original journal; this one runs live. */
  readonly fromStep: number;
  /** A model string for the fork (default: the original run's). */
  readonly model?: string | undefined;
  readonly runId?: string;
  readonly signal?: AbortSignal | undefined;
}

/** A run's row, its folded state and its whole journal. */
export interface RunInspection {
  readonly record: RunRecord;
  readonly state: RunState;
  readonly events: readonly StoredEvent[];
}

/** Options `createRuntime` refuses: agents sharing a name, bounds naming no agent or not >= 1. */
export function checkRuntimeAgents(
  agents: readonly Agent[],
  maxConcurrentRuns: RuntimeOptions['maxConcurrentRuns'],
): void {
  const names = agents.map((agent) => agent.name);
  const shared = [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
  if (shared.length > 0)
    throw new KeelError(
      'invalid_config',
      `createRuntime: agents must have distinct names; ${shared.map((name) => `"${name}"`).join(', ')} given more than once`,
    );
  for (const [name, bound] of Object.entries(maxConcurrentRuns ?? {})) {
    if (!names.includes(name))
      throw new KeelError(
        'invalid_config',
        `createRuntime: "maxConcurrentRuns.${name}" names no agent`,
      );
    if (!Number.isInteger(bound) || bound < 1)
      throw new KeelError(
        'invalid_config',
        `createRuntime: "maxConcurrentRuns.${name}" must be an integer >= 1`,
      );
  }
}

const RUNTIME_FIELDS = allFieldsOf<RuntimeOptions>()([
  'store',
  'agents',
  'clock',
  'workerId',
  'leaseMs',
  'maxClaims',
  'maxConcurrentRuns',
  'modelRetry',
  'providerLimits',
  'resolveModel',
  'onEvent',
  'toolPolicies',
  'observers',
  'alerts',
  'approvals',
  'interceptToolCall',
  'candidates',
  'shadowResult',
  'audit',
  'retention',
  'redact',
]);
const MODEL_RETRY_FIELDS = allFieldsOf<ModelRetryOptions>()([
  'maxAttempts',
  'initialDelayMs',
  'maxDelayMs',
]);
const APPROVAL_FIELDS = allFieldsOf<RuntimeApprovalOptions>()([
  'notifier',
  'baseUrl',
  'sweepMs',
  'onNotifyError',
  'onDecision',
]);
/** The fields of `StartRunOptions`. */
export const RUN_FIELDS = allFieldsOf<StartRunOptions>()([
  'runId',
  'model',
  'limits',
  'signal',
  'onWaiting',
  'shadow',
]);
const FORK_FIELDS = allFieldsOf<ForkOptions>()(['fromStep', 'model', 'runId', 'signal']);

/**
 * `createRuntime`'s options, refused when one is not an option (a misspelt `leasMs` or
 * `approval` would otherwise leave the default in force), naming it.
 */
export function checkRuntimeOptions(options: RuntimeOptions): void {
  if (typeof options !== 'object' || (options as unknown) === null)
    throw new KeelError('invalid_config', 'createRuntime: the options must be an object');
  const fail = fieldFault('invalid_config', 'createRuntime');
  refuseUnknownFields(options, RUNTIME_FIELDS, fail);
  const approvals: unknown = options.approvals;
  if (typeof approvals === 'object' && approvals !== null)
    refuseUnknownFields(approvals, APPROVAL_FIELDS, fail, 'approvals.');
  const modelRetry: unknown = options.modelRetry;
  if (modelRetry !== undefined) {
    if (typeof modelRetry !== 'object' || modelRetry === null)
      return fail('modelRetry', 'must be an object of maxAttempts, initialDelayMs and maxDelayMs');
    refuseUnknownFields(modelRetry, MODEL_RETRY_FIELDS, fail, 'modelRetry.');
    const { maxAttempts, initialDelayMs, maxDelayMs } = modelRetry as Partial<ModelRetryOptions>;
    if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1))
      fail('modelRetry.maxAttempts', 'must be a whole number of attempts, 1 or more');
    for (const [name, value] of [
      ['initialDelayMs', initialDelayMs],
      ['maxDelayMs', maxDelayMs],
    ] as const) {
      // A Node timer asked for more than 2^31 - 1 ms fires at once: no backoff at all.
      if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= MAX_TIMER_MS))
        fail(`modelRetry.${name}`, `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
    }
  }
}

/** A run's options (`run`, `submit`, `stream`) or a fork's, refused naming one that is not an option. */
export function checkRunOptions(
  where: 'run' | 'fork',
  options: StartRunOptions | ForkOptions,
): void {
  if (typeof options !== 'object' || (options as unknown) === null)
    throw new KeelError('invalid_input', `${where}: the options must be an object`);
  refuseUnknownFields(
    options,
    where === 'run' ? RUN_FIELDS : FORK_FIELDS,
    fieldFault('invalid_input', where),
  );
}
