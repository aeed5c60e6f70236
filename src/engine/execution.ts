import type { Agent, PreparedContext } from '../agent/index.js';
import type { Approvals } from '../approval/index.js';
import type { Clock } from '../core/index.js';
import type { RunEvent, RunLimits, RunState, StoredEvent } from '../journal/index.js';
import type { RunObserver } from '../observe/index.js';
import type { Store } from '../store/index.js';
import type { JournaledDecisionEntry, ToolPolicies } from '../tools/index.js';
import type { ModelRetryOptions } from './model-retry.js';
import type { ProviderGate } from './provider-limits.js';
import type { RunJournal } from './run-journal.js';
import type { ToolCallInterceptor } from './tool-interception.js';

/** Why a run's signal was aborted. */
export type RunAbort =
  | { readonly kind: 'cancel'; readonly by: 'user' | 'shutdown' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'lease_lost' }
  | { readonly kind: 'release' }
  /** The run's creation, committing as it started, failed: the run fails with `error`. */
  | { readonly kind: 'not_created'; readonly error: unknown }
  /** The executor stopped (finished or failed): stop anything it started that still runs. */
  | { readonly kind: 'ended' };

/** A piece of a step's reply text, as the model sent it. */
export interface TextDelta {
  readonly step: number;
  /** The model call's attempt at this step: a retry starts the step's text again. */
  readonly attempt: number;
  /** The journal's last sequence number when the call began. */
  readonly afterSeq: number;
  readonly text: string;
}

/** What a worker hands the executor for one run it holds. */
export interface ExecuteRunContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly workerId: string;
  readonly runId: string;
  /** The agent to execute the run with; may throw (e.g. a model this worker cannot build). */
  readonly resolveAgent: (state: RunState) => Agent;
  readonly modelRetry: ModelRetryOptions;
  readonly controller: AbortController;
  /** Claims beyond this end the run `failed` (worker_lost): the watchdog. */
  readonly maxClaims: number;
  /** Set when the run was claimed from the queue (not created by this process). */
  readonly claim?: { readonly number: number; readonly cancelRequested: boolean } | undefined;
  /** The run's journal when the caller already has it (saves a read). */
  readonly journal?: readonly StoredEvent[] | undefined;
  /**
   * The run's creation, when it was started without waiting for it to be durable: its first
   * model call goes out meanwhile, and every write of the run waits for it (see `RunJournal`).
   */
  readonly created?: Promise<void> | undefined;
  /** Called after each event commits. Must not throw; never awaited. */
  readonly onEvent?: ((runId: string, event: RunEvent) => void) | undefined;
  /** Called with each model request (a step's, or a summariser's) as it is sent. Same rules. */
  readonly onModelRequest?: RunObserver['onModelRequest'];
  /**
   * Called with each piece of a step's reply text as the model sends it (live only: the
   * journal keeps the whole reply). `afterSeq` is the journal's last sequence when the call
   * began. Same rules as `onEvent`.
   */
  readonly onTextDelta?: ((runId: string, delta: TextDelta) => void) | undefined;
  /** This process's tool breakers, bulkheads, result cache and audit log. */
  readonly toolPolicies?: ToolPolicies | undefined;
  /** Paces model calls by the providers' shared budgets (`providerLimits`). */
  readonly providerGate?: ProviderGate | undefined;
  /** Tells approvers when a gated call creates an approval. */
  readonly approvals?: Approvals | undefined;
  /** Decides per allowed call whether its tool runs (evaluations, shadow runs). */
  readonly interceptToolCall?: ToolCallInterceptor | undefined;
}

/**
 * One execution of a run by this worker: what every stage of a step reads, and the little it
 * keeps between steps. The run's own state lives in `journal.state`.
 */
export interface Execution {
  readonly run: ExecuteRunContext;
  readonly agent: Agent;
  readonly limits: RunLimits;
  readonly journal: RunJournal;
  readonly signal: AbortSignal;
  /** Calls whose first attempt this execution journaled as started with the step. */
  readonly issuedHere: Set<string>;
  /** Decisions tools made inside their calls, by `<step>:<callId>`: served again on a re-run. */
  readonly decisionsByCall: Map<string, JournaledDecisionEntry[]>;
  /** Large results already in the store's recall index (refs). */
  readonly indexed: Set<string>;
  /** The store's recall search for the step being assembled (reused by a compressed retry). */
  prepared: PreparedContext;
  /**
   * The step whose calls are all repeatable reads, committed with their results (`defer`), when
   * the run executes alone in its process: their results commit ahead
   * (`RunJournal.appendAhead`) while the next model call goes out.
   */
  repeatableStep?: number | undefined;
  /**
   * What the quarantined reader's calls under way have spent and not yet journaled: the
   * budget counts it before each further read of the same step.
   */
  readonly unjournaledSpending: { tokens: number; costUsd: number };
}

/** Stable across retries and resumes: derived from (run, step, call index). */
export function idempotencyKey(runId: string, step: number, index: number): string {
  return `${runId}:${step}:${index}`;
}
