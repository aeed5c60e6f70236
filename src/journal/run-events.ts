import type { RunSecretSpec } from './run-secrets.js';
import type { Provenance } from '../core/index.js';
import type { ApprovalExpiry, GateReason } from './approval-terms.js';
import type { ContextAssembly, SummaryOutcome } from './context-terms.js';
import type { FinishReason, ModelErrorType, ModelOutputPart, ModelUsage } from './conversation.js';
import type { DecisionEvent } from './decision-events.js';
import type { LimitName, RunLimits } from './limits.js';
import type { ToolEffect, ToolFailure } from './tool-terms.js';

/** How a run ended. Closed: every terminal state is one of these. */
export const RUN_STATUSES = ['succeeded', 'failed', 'stopped', 'escalated', 'cancelled'] as const;
/** How a run ended. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Why a run ended. Plain JSON; the `type` decides what a reader does with it. */
export type RunReason =
  | { readonly type: 'final_answer' }
  | {
      readonly type: 'limit';
      readonly limit: LimitName;
      readonly used: number;
      readonly max: number;
      /** Calls started and cut off by the stop, whose effect is unknown (checked by key). */
      readonly inDoubt?: readonly InDoubtCall[] | undefined;
    }
  | {
      readonly type: 'model_error';
      readonly errorType: ModelErrorType;
      readonly message: string;
      readonly attempts: number;
      readonly statusCode?: number | undefined;
    }
  | { readonly type: 'worker_lost'; readonly attempts: number }
  /**
   * The run's workers died while calls that are not idempotent were started and unfinished:
   * whether they took effect is unknown, so a human checks each one by its idempotency key.
   */
  | { readonly type: 'in_doubt'; readonly attempts: number; readonly calls: readonly InDoubtCall[] }
  | {
      readonly type: 'cancelled';
      readonly by: 'user' | 'shutdown';
      /** Calls started and cut off by the cancel, whose effect is unknown (checked by key). */
      readonly inDoubt?: readonly InDoubtCall[] | undefined;
    }
  | {
      readonly type: 'escalation';
      readonly message: string;
      /** Set when a tool's `handoff` escape hatch escalated: the tool and its failure. */
      readonly toolName?: string | undefined;
      readonly error?: ToolFailure | undefined;
    }
  | { readonly type: 'internal'; readonly message: string }
  /** The model called a tool outside the agent's set, under `onOutOfScope: 'stop'`. */
  | { readonly type: 'out_of_scope'; readonly toolName: string; readonly step: number };

/**
 * A started tool call with no recorded outcome when its run ended: its workers were lost, or a
 * timeout or cancel cut it off. Whether it took effect is unknown.
 */
export interface InDoubtCall {
  readonly step: number;
  readonly callId: string;
  readonly toolName: string;
  readonly idempotencyKey: string;
}

export interface RunOutcome {
  readonly status: RunStatus;
  readonly reason: RunReason;
}

/** A run's tokens and cost so far; `costKnown` is false if any call's price was unknown. */
export interface UsageTotals {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Sum over calls with a known price; `costKnown` is false if any call's price was unknown. */
  readonly costUsd: number;
  readonly costKnown: boolean;
}

/**
 * One journal entry. A run's state is a fold over these (see `foldRun`). Discriminated on
 * `type`; every value is plain JSON so it round-trips through the store.
 */
export type RunEvent =
  | {
      readonly type: 'run_started';
      readonly agent: string;
      readonly task: string;
      readonly taskProvenance: Provenance;
      readonly model: { readonly provider: string; readonly modelId: string };
      /** The `--model` string the run was started with, if it overrode the agent's model. */
      readonly modelSpec?: string | undefined;
      readonly limits: RunLimits;
      readonly startedAt: number;
      /** Set on a fork: the run and step whose journal this run reuses up to that step. */
      readonly forkOf?: { readonly runId: string; readonly step: number } | undefined;
      /**
       * The agent's version (explicit, or the digest of its definition); absent in older
       * journals. Baselines and alerts are kept per agent version.
       */
      readonly version?: string | undefined;
      /**
       * Set on a shadow run: the production run whose task it repeats and whose recorded tool
       * results it is served. Its side effects never run.
       */
      readonly shadowOf?: string | undefined;
      /** The shadow (its id in the store) a shadow run belongs to. */
      readonly shadowId?: string | undefined;
      /**
       * Where the run's secrets are: its tools' `secretFields` and the runtime's redactors, so
       * views and `keel erase` find them without the agent's code. Absent when none is marked.
       */
      readonly secrets?: RunSecretSpec | undefined;
      /** Set by `keel erase`: when the run's secrets were replaced in the store. */
      readonly erasedAt?: number | undefined;
    }
  | {
      readonly type: 'run_claimed';
      readonly workerId: string;
      readonly claim: number;
      /** When the claim was taken (absent in older journals): the run's own time starts here. */
      readonly at?: number | undefined;
    }
  /** A worker handed the run back cleanly (shutdown): not counted as a lost worker. */
  | { readonly type: 'run_released'; readonly workerId: string }
  | {
      readonly type: 'model_called';
      readonly step: number;
      readonly content: readonly ModelOutputPart[];
      readonly finishReason: FinishReason;
      readonly usage: ModelUsage;
      readonly costUsd: number | null;
      readonly estimatedInputTokens: number;
      readonly latencyMs: number;
      readonly attempts: number;
      /** The output's label: untrusted once the model has seen untrusted content. */
      readonly provenance: Provenance;
      readonly responseId?: string | undefined;
      readonly responseModel?: string | undefined;
      /** `provider:modelId` of the fallback that served the call; unset for the agent's model. */
      readonly model?: string | undefined;
      /**
       * Digest of the canonical request the model was asked (absent in older journals): replay
       * compares it to tell when a run would now ask something different.
       */
      readonly requestHash?: string | undefined;
    }
  | {
      readonly type: 'model_failed';
      readonly step: number;
      readonly attempt: number;
      readonly errorType: ModelErrorType;
      readonly message: string;
      readonly statusCode?: number | undefined;
      readonly retryAfterMs?: number | undefined;
      readonly willRetry: boolean;
      /** `provider:modelId` the next attempt moves to, down the tier's fallback chain. */
      readonly fallbackTo?: string | undefined;
    }
  | {
      readonly type: 'tool_requested';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly input: unknown;
      readonly effect: ToolEffect;
    }
  | {
      /** Malformed call (bad JSON, unknown tool, schema mismatch): a typed error fed back. */
      readonly type: 'tool_rejected';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly error: ToolFailure;
      /** Set when the tool is not in the agent's own set: a call outside its scope, flagged. */
      readonly outOfScope?: true | undefined;
    }
  | {
      readonly type: 'tool_started';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly idempotencyKey: string;
      readonly attempt: number;
      /** Set when a started attempt is issued again after a crash (same key). */
      readonly reissued?: boolean | undefined;
    }
  | {
      readonly type: 'tool_finished';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly content: string;
      readonly contentHash: string;
      readonly provenance: Provenance;
      readonly attempts: number;
      readonly latencyMs: number;
      /** Set when the content is the tool's fallback: the failure it stands in for. */
      readonly degraded?: ToolFailure | undefined;
      /** Set when the content came from the result cache or an identical call in flight. */
      readonly cache?: 'hit' | 'coalesced' | undefined;
    }
  | {
      readonly type: 'tool_failed';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly error: ToolFailure;
      readonly provenance: Provenance;
      readonly attempt: number;
      /** True when no further attempt follows: the failure is fed back to the model. */
      readonly final: boolean;
      /** The wait before the next attempt, when one follows. */
      readonly retryInMs?: number | undefined;
    }
  | {
      /**
       * A reply that cannot be a final answer: empty, cut off by the output-token cap, or
       * withheld by a content filter. Fed back to the model; counts as a step without progress.
       */
      readonly type: 'model_output_rejected';
      readonly step: number;
      readonly reason: 'empty' | 'truncated' | 'content_filter';
      readonly feedback: string;
    }
  | {
      readonly type: 'limit_hit';
      readonly limit: LimitName;
      readonly used: number;
      readonly max: number;
    }
  | { readonly type: 'cancel_requested'; readonly by: 'user' | 'shutdown' }
  | {
      /** The gate held a call for a human: it does not start until decided. */
      readonly type: 'approval_requested';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly approvalId: string;
      readonly argsHash: string;
      readonly reason: GateReason;
      readonly approverGroup: string;
      readonly expiresAt: number;
      readonly onExpiry: ApprovalExpiry;
    }
  | {
      /** The worker that parked the run on pending approvals let go of it (not a lost worker). */
      readonly type: 'run_suspended';
      readonly workerId: string;
      readonly approvalIds: readonly string[];
      readonly at: number;
    }
  | {
      /**
       * A human (or the expiry) decided a held call. `approved` runs it (with `editedInput` when
       * set); `denied` and `expired` never run it and feed the model a typed `denied` result.
       */
      readonly type: 'approval_decided';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly approvalId: string;
      readonly decision: 'approved' | 'denied' | 'expired';
      readonly decidedBy: string;
      readonly reason?: string | undefined;
      readonly editedInput?: unknown;
      readonly at: number;
    }
  | ({
      /**
       * What the model is about to be sent for a step (agents with a managed context, and any
       * re-assembly after a `context_too_long` error): sections with their token counts, the
       * stored results recalled. Committed before the call, so replay sees what the model saw.
       */
      readonly type: 'context_assembled';
      readonly step: number;
      /** `context_too_long`: compressed further after the provider rejected the request. */
      readonly trigger: 'step' | 'context_too_long';
    } & ContextAssembly)
  | ({
      /**
       * A completed step summarised for the managed context by the model or custom summariser
       * (a failed one falls back to the deterministic line, `fallback` saying why). Its usage
       * counts against the run's limits; replay serves it from here.
       */
      readonly type: 'step_summarised';
      /** The step whose context needed the summary (it is journaled before that step's call). */
      readonly step: number;
      /** The completed step the summary stands for. */
      readonly summarisedStep: number;
    } & SummaryOutcome)
  | {
      /**
       * A policy's verdict on one call before it was committed (journaled by policies that ask
       * to be: the guard). `origins` says, per argument path, where the value came from.
       */
      readonly type: 'guard_verdict';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly policy: string;
      readonly verdict: 'allow' | 'confirm' | 'deny';
      readonly rule: string;
      readonly origins?: Readonly<Record<string, string>> | undefined;
    }
  | {
      /**
       * One entry of a decision a tool made with `decide({ run: context })` during a call:
       * each attempt (with the error fed back), vote, cache hit, review and fallback. A
       * decision's entries are committed together when it is made.
       */
      readonly type: 'decision_recorded';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly decisionId: string;
      readonly entry: DecisionEvent;
    }
  | {
      /**
       * The injection detector's signal on one untrusted tool result (journaled when it found
       * something). Telemetry: it never relaxes a policy; at or above `threshold` every later
       * `irreversible` or `egress` call of the run needs a human.
       */
      readonly type: 'injection_signal';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly detector: string;
      readonly score: number;
      readonly matches: readonly string[];
      readonly threshold: number;
    }
  | {
      /**
       * An untrusted tool result kept from the tool-using model (`untrusted.handling:
       * 'quarantine'`): `view` is all the model sees of it, a reference or the quarantined
       * reader's typed extraction with free-text fields as references. `outputs` are the
       * reader's raw replies (served back on replay).
       */
      readonly type: 'tool_quarantined';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly view: string;
      readonly outputs: readonly string[];
      /** Field path → `untrusted` (free text) or `derived`, when the reader extracted. */
      readonly labels?: Readonly<Record<string, 'untrusted' | 'derived'>> | undefined;
      /**
       * The reader's typed extraction: what a reference in a later call's arguments resolves
       * to (the model itself sees only `view`).
       */
      readonly extracted?: unknown;
      readonly error?: string | undefined;
      /** The reader's reported usage over its attempts (counted against the run's budget). */
      readonly usage?: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
      /**
       * Each attempt's usage, in the order of `outputs`: replay serves each reply with its own,
       * so the budget decides each attempt as the run did. Absent in older journals.
       */
      readonly attemptUsage?:
        readonly { readonly inputTokens: number; readonly outputTokens: number }[] | undefined;
      /**
       * What the reader's calls cost: `null` for an unpriced reader; absent in older journals,
       * where the cost is unknown.
       */
      readonly costUsd?: number | null | undefined;
    }
  | {
      /**
       * The trusted planning step (`untrusted.plan`): before any untrusted content entered the
       * run, a structured model call read from the trusted task which consequential tools it
       * asks for. Once the run is tainted, a consequential call to a tool outside `tools` needs
       * a human. `outputs` are the planner's raw replies (served back on replay); a planner that
       * gave no valid answer leaves `tools` out (`error` says why) and the tools' intent words
       * decide alone.
       */
      readonly type: 'intent_planned';
      readonly step: number;
      readonly tools?: readonly string[] | undefined;
      readonly outputs: readonly string[];
      readonly error?: string | undefined;
      /** The planner's reported usage over its attempts (counted against the run's budget). */
      readonly usage?: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
      /**
       * What the planner's calls cost: `null` for an unpriced planner; absent when the cost was
       * not recorded (older journals), where it is unknown.
       */
      readonly costUsd?: number | null | undefined;
    }
  | {
      /**
       * The output monitor found a call that does not fit the task (out of scope, a
       * destination seen only in untrusted content, a permission change, an exfiltration-
       * shaped argument). Telemetry and an alert; the action policy decides the call.
       */
      readonly type: 'action_flagged';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly flags: readonly {
        readonly kind:
          'out_of_scope' | 'untrusted_destination' | 'permission_change' | 'exfiltration_shape';
        readonly argument?: string | undefined;
        readonly detail: string;
      }[];
    }
  | {
      /**
       * The answer guard checked the final answer of a run that read untrusted content (or
       * private data): links whose destination came only from untrusted content (neutralised
       * or flagged), private values taken out of URLs, and the answer's spans that derive from
       * untrusted content. Comes right before the `run_finished` that carries the answer.
       */
      readonly type: 'answer_guarded';
      readonly step: number;
      readonly handling: 'neutralise' | 'flag';
      readonly findings: readonly {
        readonly kind: 'untrusted_link' | 'private_value';
        readonly destination: string;
        readonly origin: 'trusted' | 'allow_listed' | 'untrusted' | 'ungrounded';
        readonly form: 'image' | 'link' | 'url';
        readonly action: 'neutralised' | 'removed' | 'flagged';
      }[];
      readonly spans: readonly AnswerProvenanceSpan[];
      /** The answer as the model gave it, when the guard changed it. */
      readonly original?: string | undefined;
    }
  | {
      /**
       * The final answer waits for a person (`untrusted.answer: 'confirm'`): the answer guard
       * found something in it. `output` is what is returned once approved; an
       * `approval_requested` for `final_answer` (call id `callId`) follows.
       */
      readonly type: 'answer_held';
      readonly step: number;
      readonly callId: string;
      readonly output: string;
    }
  | {
      /**
       * A call the runtime's interceptor answered instead of the tool (an evaluation's fixture,
       * a recorded result) or kept from running (`suppressed`: a side effect that must not
       * happen here). Committed with the result the model is given; the tool never started.
       */
      readonly type: 'tool_intercepted';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly effect: ToolEffect;
      readonly input: unknown;
      readonly action: 'served' | 'suppressed';
      /** Where a served result came from, or why a call was suppressed. */
      readonly detail: string;
    }
  | {
      /**
       * A shadow run's call that would have had a side effect (`write`, `irreversible`,
       * `egress`, or a `read` the shadow may not run live) and matched no recorded result of
       * the production run: it never ran, and the model was given a neutral result.
       */
      readonly type: 'shadow_suppressed';
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      readonly effect: ToolEffect;
      readonly input: unknown;
      readonly reason: string;
    }
  | {
      /**
       * A shadow run's call the gates would have held for a human: nobody is asked, the call
       * goes on to the shadow's interception (served if production recorded it, else neutral).
       */
      readonly type: 'would_need_approval';
      readonly step: number;
      readonly callId: string;
      readonly index: number;
      readonly toolName: string;
      readonly input: unknown;
      readonly reason: GateReason;
      readonly approverGroup: string;
    }
  | {
      readonly type: 'run_finished';
      readonly status: RunStatus;
      readonly reason: RunReason;
      readonly output: string | null;
      readonly usage: UsageTotals;
      readonly steps: number;
    };

/**
 * A stretch of a final answer that derives from untrusted content (offsets into the answer as
 * delivered): a link whose destination came from it, a sentence carrying its values or
 * phrases, or a quarantined reference resolved into the answer.
 */
export interface AnswerProvenanceSpan {
  readonly start: number;
  readonly end: number;
  readonly source: string;
  readonly reason: 'link' | 'content' | 'quarantine';
}

/** The `type` of a journal event. */
export type RunEventType = RunEvent['type'];

/** One line that says why a run ended, for people (at most ~300 characters). */
export function describeReason(reason: RunReason): string {
  const text = reasonText(reason).replace(/\s+/g, ' ').trim();
  return text.length <= 300 ? text : `${text.slice(0, 299)}…`;
}

function reasonText(reason: RunReason): string {
  switch (reason.type) {
    case 'final_answer':
      return 'the agent gave its final answer';
    case 'limit':
      return `${reason.limit} limit reached (${formatNumber(reason.used)} of ${formatNumber(reason.max)})${inDoubtText(reason.inDoubt)}`;
    case 'model_error':
      return `model call failed after ${reason.attempts} attempt(s): ${reason.errorType}: ${reason.message}`;
    case 'worker_lost':
      return `the run's worker stopped ${reason.attempts} time(s); retries exhausted`;
    case 'in_doubt':
      return `the run's worker stopped ${reason.attempts} time(s) during calls that may have taken effect; check ${reason.calls
        .map((call) => `${call.toolName} (key ${call.idempotencyKey})`)
        .join(', ')}`;
    case 'cancelled':
      return `cancelled by ${reason.by}${inDoubtText(reason.inDoubt)}`;
    case 'escalation':
      return `escalated: ${reason.message}`;
    case 'internal':
      return `internal error: ${reason.message}`;
    case 'out_of_scope':
      return `stopped: the model called "${reason.toolName}", a tool outside the agent's set (step ${reason.step})`;
    default:
      reason satisfies never;
      return 'unknown';
  }
}

function inDoubtText(calls: readonly InDoubtCall[] | undefined): string {
  if (!calls || calls.length === 0) return '';
  return `; cut off during calls that may have taken effect: check ${calls
    .map((call) => `${call.toolName} (key ${call.idempotencyKey})`)
    .join(', ')}`;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}
