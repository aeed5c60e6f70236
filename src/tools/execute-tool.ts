import { redactSecrets, sleep, untilAborted } from '../core/index.js';
import type { NewAuditEntry } from '../store/index.js';
import type { BreakerAdmission } from './circuit-breaker.js';
import type { Tool, ToolContext } from './define-tool.js';
import { cacheKey, runCached } from './tool-cache.js';
import { ToolPolicies } from './tool-policies.js';
import { toToolFailure, type ToolFailure } from './tool-error.js';

/** The outcome of one tool call after all attempts. */
export type ToolOutcome =
  | {
      readonly ok: true;
      readonly value: unknown;
      readonly attempts: number;
      /** Set when the value is the tool's fallback: the failure it stands in for. */
      readonly degraded?: ToolFailure | undefined;
      /** Set when the value came from the result cache or from an identical call in flight. */
      readonly cache?: 'hit' | 'coalesced' | undefined;
      /** The tool said its result is partial (never cached). */
      readonly partial?: boolean | undefined;
      /** Audit entries left for the caller to commit (with `audit.deferred`). */
      readonly audit?: readonly NewAuditEntry[] | undefined;
    }
  | {
      readonly ok: false;
      readonly failure: ToolFailure;
      readonly attempts: number;
      /** Set when the tool's escape hatch hands the run to a human: why. */
      readonly handoff?: string | undefined;
      /** Audit entries left for the caller to commit (with `audit.deferred`). */
      readonly audit?: readonly NewAuditEntry[] | undefined;
    };

/** Journal hooks: awaited, so each attempt is durable before it runs. Their errors propagate. */
export interface ToolAttemptHooks {
  beforeAttempt(attempt: number): Promise<void>;
  /**
   * `retryInMs` is the wait before the next attempt when `willRetry`. With `audit.deferred`,
   * `audit` holds the attempt's entries for the caller to commit with what it journals.
   */
  afterFailedAttempt(
    attempt: number,
    failure: ToolFailure,
    willRetry: boolean,
    retryInMs: number | undefined,
    audit: readonly NewAuditEntry[],
  ): Promise<void>;
}

/**
 * What allowed a call, as the audit log records it: `agent_tool_scope` (only the agent's tool
 * set), `policy` (the guard's and the gates' verdicts, in `policy`) or `approval` (a human, in
 * `approval`; verdicts that asked for it in `policy`). Plain JSON.
 */
export interface ToolCallDecision {
  readonly allowedBy: string;
  readonly policy?: unknown;
  readonly approval?: { readonly approvalId: string; readonly decidedBy: string } | undefined;
}

export interface ExecuteToolOptions {
  readonly tool: Tool;
  readonly input: unknown;
  readonly context: Omit<ToolContext, 'attempt' | 'signal' | 'markPartial'>;
  readonly signal: AbortSignal;
  readonly hooks: ToolAttemptHooks;
  /** The attempt to run first (after a resume: a re-issue or the next attempt). */
  readonly firstAttempt?: number;
  /** Breakers, bulkheads, cache and audit log shared by this process's calls. */
  readonly policies?: ToolPolicies | undefined;
  /**
   * The step the call belongs to and what allowed it, for the audit log. Entries are appended
   * as each attempt ends; with `deferred` they are handed to the caller instead (through
   * `afterFailedAttempt` and the outcome's `audit`) to commit with its journal events.
   */
  readonly audit?:
    | {
        readonly step: number;
        readonly decision: ToolCallDecision;
        readonly deferred?: boolean | undefined;
      }
    | undefined;
}

/** Policies for callers that pass none: timeouts, bulkheads and retries only. */
let storelessPolicies: ToolPolicies | undefined;

/**
 * Run a tool under its policies, in this order: result cache (cacheable reads; identical calls
 * in flight share one execution), then per attempt the shared circuit breaker (an open breaker
 * fails fast as `unavailable`), the bulkhead and the timeout (cockatiel; the tool's signal
 * aborts at the deadline), then retries by error type: only transient failures (`rate_limited`,
 * `unavailable`, `timeout`) of tools safe to repeat, with jittered exponential backoff that
 * honours `retryAfterMs` (a retry-after beyond `maxDelayMs` is not waited out: the failure goes
 * back to the model). A failure that remains goes through the tool's escape hatch (fallback or
 * handoff). Every attempt is audited.
 *
 * The retry loop is Keel's own rather than cockatiel's `retry()`: cockatiel 3.2.1 does not end
 * its wait between attempts when the run's signal aborts, and a cancelled run must not sleep.
 *
 * A tool's own failure becomes a typed outcome; a failing journal hook or store rejects (the
 * caller handles store faults).
 *
 * ```ts
 * const outcome = await executeTool({ tool, input, context, signal, hooks, policies });
 * if (!outcome.ok) console.log(outcome.failure.type);
 * ```
 */
export async function executeTool(options: ExecuteToolOptions): Promise<ToolOutcome> {
  const policies = options.policies ?? (storelessPolicies ??= new ToolPolicies());
  const { tool } = options;
  if (tool.cache && policies.store) {
    return runCached({
      tool,
      key: cacheKey(tool, options.input),
      policies,
      signal: options.signal,
      execute: () => executeAttempts(options, policies),
      audit: (answer, cache) =>
        audit(options, policies, options.firstAttempt ?? 1, 0, { ...answer, cache }),
    });
  }
  return executeAttempts(options, policies);
}

async function executeAttempts(
  options: ExecuteToolOptions,
  policies: ToolPolicies,
): Promise<ToolOutcome> {
  const { tool, input, signal, hooks, firstAttempt = 1 } = options;
  const retryable = tool.idempotent || tool.effect === 'read';
  const lastAttempt = retryable ? Math.max(firstAttempt, tool.retry.maxAttempts) : firstAttempt;
  const breaker = policies.breaker(tool);
  /** Audit entries not yet handed over (deferred audit only). */
  const pending: NewAuditEntry[] = [];
  for (let attempt = firstAttempt; ; attempt++) {
    await hooks.beforeAttempt(attempt);
    const startedAt = performance.now();
    let failure: ToolFailure;
    let failFast = false;
    const admission: BreakerAdmission = breaker
      ? await breaker.admit()
      : { admitted: true, probe: false };
    if (!admission.admitted) {
      failure = admission.failure;
      failFast = true;
    } else {
      const result = await runGuarded(options, policies, attempt);
      // Outside the tool's own error handling: a store fault here propagates as a fault.
      if (result.ok) {
        await breaker?.record(undefined, admission.probe);
        const durationMs = performance.now() - startedAt;
        pending.push(...(await audit(options, policies, attempt, durationMs, result)));
        return {
          ok: true,
          value: result.value,
          attempts: attempt,
          ...(result.partial ? { partial: true } : {}),
          ...(pending.length > 0 ? { audit: pending } : {}),
        };
      }
      failure = result.failure;
      // Refused by the bulkhead or cancelled: the service was not asked, so it is not blamed.
      if (result.blame) await breaker?.record(failure, admission.probe);
    }
    pending.push(
      ...(await audit(options, policies, attempt, performance.now() - startedAt, { failure })),
    );
    const delay = failFast ? undefined : retryDelay(tool, attempt, failure, policies.random);
    const willRetry =
      tool.retry.on.includes(failure.type) &&
      attempt < lastAttempt &&
      delay !== undefined &&
      !signal.aborted;
    // A retried attempt's entries go with its journal event; the last one's with the outcome.
    await hooks.afterFailedAttempt(
      attempt,
      failure,
      willRetry,
      willRetry ? delay : undefined,
      willRetry ? pending.splice(0) : [],
    );
    if (!willRetry || delay === undefined) {
      const outcome = await escape(tool, input, failure, attempt, signal);
      return pending.length > 0 ? { ...outcome, audit: pending } : outcome;
    }
    try {
      await sleep(delay, { signal });
    } catch {
      return { ok: false, failure, attempts: attempt };
    }
  }
}

/**
 * One attempt under cockatiel's bulkhead and timeout, ended at once when the run aborts. A
 * throw from the tool becomes a typed failure; `blame` says whether it counts against the
 * service (a bulkhead refusal or a cancelled run does not).
 */
async function runGuarded(
  options: ExecuteToolOptions,
  policies: ToolPolicies,
  attempt: number,
): Promise<
  | { readonly ok: true; readonly value: unknown; readonly partial: boolean }
  | { readonly ok: false; readonly failure: ToolFailure; readonly blame: boolean }
> {
  const { tool, input, context, signal } = options;
  let partial = false;
  /** The attempt's signal aborted while the tool still ran: its deadline, or the run's. */
  let cutOff = false;
  try {
    const value = await untilAborted(
      policies.guard(tool).execute(({ signal: attemptSignal }) => {
        let settled = false;
        attemptSignal.addEventListener(
          'abort',
          () => {
            cutOff = !settled;
          },
          { once: true },
        );
        // A tool that throws before returning its promise fails like one that rejects.
        const work = Promise.resolve().then(() =>
          tool.run(input, {
            ...context,
            attempt,
            signal: attemptSignal,
            markPartial: () => {
              partial = true;
            },
          }),
        );
        const settle = () => {
          settled = true;
        };
        work.then(settle, settle);
        return work;
      }, signal),
      signal,
    );
    return { ok: true, value, partial };
  } catch (error) {
    return { ok: false, ...attemptFailure(tool, cutOff ? TIMED_OUT : error, signal) };
  }
}

/**
 * Jittered exponential backoff from `initialDelayMs` (between half and all of
 * `initialDelayMs * 2^(attempt-1)`), at least the failure's `retryAfterMs`, at most
 * `maxDelayMs`. `undefined` when the failure asks for a longer wait than `maxDelayMs`.
 *
 * ```ts
 * // initialDelayMs 100, maxDelayMs 10_000, third attempt failed: waits 200-400 ms, or longer
 * // if the server said so.
 * retryDelay(tool, 3, { type: 'rate_limited', message: '', retryAfterMs: 1_000 }, Math.random) // 1000
 * ```
 */
export function retryDelay(
  tool: Tool,
  attempt: number,
  failure: ToolFailure,
  random: () => number,
): number | undefined {
  const retryAfterMs = failure.retryAfterMs ?? 0;
  if (retryAfterMs > tool.retry.maxDelayMs) return undefined;
  const exponential = tool.retry.initialDelayMs * 2 ** (attempt - 1);
  const jittered = exponential * (0.5 + random() / 2);
  return Math.ceil(Math.max(retryAfterMs, Math.min(tool.retry.maxDelayMs, jittered)));
}

/** Stands for the deadline when a tool answered its aborted signal with an error of its own. */
const TIMED_OUT = Object.freeze({ isTaskCancelledError: true });

/**
 * cockatiel's errors carry a marker property. Its own `isTaskCancelledError` (3.2.1) tests the
 * bulkhead's marker instead, so the markers are checked here.
 */
function hasMarker(error: unknown, marker: 'isTaskCancelledError' | 'isBulkheadRejectedError') {
  return typeof error === 'object' && error !== null && marker in error;
}

/** The typed failure of an attempt, and whether it counts against the service. */
function attemptFailure(
  tool: Tool,
  error: unknown,
  signal: AbortSignal,
): { failure: ToolFailure; blame: boolean } {
  if (signal.aborted) {
    return {
      failure: { type: 'unavailable', message: `${tool.name} was cancelled` },
      blame: false,
    };
  }
  if (hasMarker(error, 'isTaskCancelledError')) {
    const message = `${tool.name} timed out after ${tool.timeoutMs} ms`;
    return { failure: { type: 'timeout', message }, blame: true };
  }
  if (hasMarker(error, 'isBulkheadRejectedError')) {
    const { maxConcurrent, maxQueued } = tool.bulkhead;
    const message = `${tool.name} has too many calls in this process (${maxConcurrent} running, ${maxQueued} waiting)`;
    return { failure: { type: 'unavailable', message }, blame: false };
  }
  return { failure: toToolFailure(error), blame: true };
}

async function escape(
  tool: Tool,
  input: unknown,
  failure: ToolFailure,
  attempts: number,
  signal: AbortSignal,
): Promise<ToolOutcome> {
  const hatch = tool.escape;
  if (!hatch || signal.aborted || !hatch.on?.includes(failure.type))
    return { ok: false, failure, attempts };
  if (hatch.type === 'handoff') {
    const reason =
      hatch.reason ?? `${tool.name} failed after ${attempts} attempt(s): ${failure.message}`;
    return { ok: false, failure, attempts, handoff: reason };
  }
  try {
    const value: unknown = await hatch.value(failure, input);
    return { ok: true, value, attempts, degraded: failure };
  } catch (error) {
    const reason = toToolFailure(error).message;
    return {
      ok: false,
      failure: { ...failure, message: `${failure.message} (fallback failed: ${reason})` },
      attempts,
    };
  }
}

async function audit(
  options: ExecuteToolOptions,
  policies: ToolPolicies,
  attempt: number,
  durationMs: number,
  result: ({ value: unknown } | { failure: ToolFailure }) & { cache?: 'hit' | 'coalesced' },
): Promise<NewAuditEntry[]> {
  if (!policies.store) return [];
  const { tool, context, input } = options;
  const entry: NewAuditEntry = {
    kind: 'tool_call',
    at: policies.clock.now(),
    runId: context.runId,
    data: {
      tool: tool.name,
      version: tool.version,
      effect: tool.effect,
      step: options.audit?.step ?? null,
      callId: context.callId,
      idempotencyKey: context.idempotencyKey,
      // Secrets as a digest salted with the run: erasing a value later leaves this row intact.
      args: redactSecrets(input, {
        paths: tool.secretFields.input,
        redactors: policies.redact,
        salt: context.runId,
      }),
      attempt,
      durationMs: Math.round(durationMs * 1000) / 1000,
      outcome:
        'failure' in result
          ? { ok: false, error: result.failure, ...(result.cache ? { cache: result.cache } : {}) }
          : {
              ok: true,
              result: redactSecrets(jsonSafe(result.value), {
                paths: tool.secretFields.output,
                redactors: policies.redact,
                salt: context.runId,
              }),
              ...(result.cache ? { cache: result.cache } : {}),
            },
      decision: options.audit?.decision ?? { allowedBy: 'caller' },
    },
  };
  if (options.audit?.deferred) return [entry];
  await policies.audit(entry);
  return [];
}

/** A result as the audit log can hold it: JSON, or a note that it was not. */
function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
  } catch {
    return { unserializable: String(value) };
  }
}
