import type { AbortableOptions } from '../core/index.js';
import type { NewEvent, StoredEvent } from '../journal/index.js';
import type { NewAuditEntry } from './audit-log.js';

/** Every status a run's row can have, the waiting and queued states included. */
export const RUN_RECORD_STATUSES = [
  'queued',
  'running',
  /** Waiting on a human decision: holds no lease and is not claimable until decided. */
  'waiting',
  'succeeded',
  'failed',
  'stopped',
  'escalated',
  'cancelled',
] as const;
/** A run's status as its row keeps it: queued, running, waiting on a human, or finished. */
export type RunRecordStatus = (typeof RUN_RECORD_STATUSES)[number];
export type TerminalStatus = Exclude<RunRecordStatus, 'queued' | 'running' | 'waiting'>;
/** The statuses of a finished run. */
export const TERMINAL_STATUSES = [
  'succeeded',
  'failed',
  'stopped',
  'escalated',
  'cancelled',
] as const satisfies readonly TerminalStatus[];

/** A run's row: a projection kept beside the journal for listing and claiming. */
export interface RunRecord {
  readonly id: string;
  readonly agent: string;
  readonly task: string;
  readonly status: RunRecordStatus;
  /** JSON of the run's reason once finished. */
  readonly reason: unknown;
  readonly output: string | null;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number;
  /** How many times a worker has claimed the run. */
  readonly claims: number;
  readonly cancelRequested: boolean;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly steps: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
  readonly schemaVersion: number;
  /** The agent's version the run started with (null for runs stored before versions). */
  readonly version: string | null;
  /** Set on a shadow run: the production run it repeats. */
  readonly shadowOf: string | null;
}

export type { NewEvent, StoredEvent };

/** Written with the run's final events, in the same commit. */
export interface RunFinish {
  readonly status: TerminalStatus;
  readonly reason: unknown;
  readonly output: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly steps: number;
  readonly at: number;
  /**
   * `false` when the run never asked for an approval, so it has none pending to withdraw (the
   * store skips looking). Unset: its pending approvals are withdrawn.
   */
  readonly approvalsRequested?: boolean | undefined;
}

/** Who may write: the lease holder, or anyone while the run is still queued. */
export type WriteGuard =
  | {
      readonly leaseOwner: string;
      /**
       * The claim the writer executes under: a fencing token. A worker that re-claimed its own
       * run after a late heartbeat writes with the new claim; the stale copy is refused.
       */
      readonly claim?: number | undefined;
    }
  | { readonly status: 'queued' };

export interface JournalWrite {
  readonly runId: string;
  readonly guard: WriteGuard;
  readonly events: readonly NewEvent[];
  readonly finish?: RunFinish | undefined;
  /** Audit entries committed with these events (and only if they are), in the same commit. */
  readonly audit?: readonly NewAuditEntry[] | undefined;
}

export interface NewRun {
  readonly id: string;
  readonly agent: string;
  readonly task: string;
  readonly createdAt: number;
  readonly events: readonly NewEvent[];
  /** Create the run already claimed by this worker (a run executed in-process). */
  readonly claimBy?: { readonly workerId: string; readonly leaseUntil: number } | undefined;
}

export interface ClaimOptions {
  readonly workerId: string;
  readonly now: number;
  readonly leaseMs: number;
  /** Only runs of these agents (the ones this worker can execute). */
  readonly agents?: readonly string[] | undefined;
  /**
   * The most runs of an agent held by live workers at once, across all workers: an agent at
   * its bound is skipped. Agents are served fewest-running first.
   */
  readonly maxConcurrentRuns?: Readonly<Record<string, number>> | undefined;
  /**
   * Claims lost to dead workers after which the next claim is the watchdog's. A run whose
   * watchdog claim was lost too is ended here, without another claim: `in_doubt` when calls
   * were started without an outcome, `worker_lost` otherwise (the record comes back finished).
   */
  readonly maxClaims?: number | undefined;
  /**
   * Shadow runs (see `ShadowStore`): claimed only when no production run is claimable
   * (`also`, the default), never (`never`: a production worker), or only them (`only`: a
   * worker kept for candidates, so they never compete with production runs).
   */
  readonly shadows?: ShadowClaims | undefined;
}

/** Which runs a worker claims: production runs first and shadow runs after, or one kind. */
export type ShadowClaims = 'also' | 'never' | 'only';

export interface LeaseRenewal {
  /** Runs this worker no longer holds: stop executing them. */
  readonly lost: readonly string[];
  /** Runs someone asked to cancel. */
  readonly cancelRequested: readonly string[];
}

export interface ListRunsOptions {
  readonly limit?: number;
  readonly statuses?: readonly RunRecordStatus[];
  readonly agent?: string;
  /** Shadow runs: left out (default), `only` them, or `include`d with production runs. */
  readonly shadows?: 'exclude' | 'only' | 'include';
}

/** Park a run this worker holds until a human decides its held calls. */
export interface SuspendRun {
  readonly runId: string;
  readonly leaseOwner: string;
  readonly claim: number;
  readonly step: number;
  /** The calls of `step` waiting on approvals: if one was decided meanwhile, nothing parks. */
  readonly callIndexes: readonly number[];
  readonly events: readonly NewEvent[];
  readonly now: number;
}

/**
 * The run journal and its leases: runs, their append-only journals, and which worker holds
 * which run. Journal writes are grouped into shared commits; each `append` resolves once its
 * events are durable. Faults are `KeelError`s: `store_unavailable`, `store_corrupt`,
 * `lease_lost`, `not_found`, `conflict`.
 *
 * ```ts
 * const run = await store.getRun(runId);
 * const journal = await store.readEvents(runId);
 * ```
 */
export interface RunJournalStore {
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  readEvents(runId: string, options?: { afterSeq?: number }): Promise<StoredEvent[]>;
  /** Append events (and optionally finish the run) if the guard holds; else `lease_lost`. */
  append(write: JournalWrite): Promise<void>;
  /** Wait until the pending group commit is durable. */
  flush(options?: AbortableOptions): Promise<void>;
  /**
   * Claim one runnable run: queued, or running with an expired lease. The claim and its
   * `run_claimed` event commit together. A finished record means the run's claims were spent
   * and it was ended instead (see `ClaimOptions.maxClaims`).
   */
  claimNext(options: ClaimOptions): Promise<RunRecord | undefined>;
  /**
   * Claim one queued run by id (the caller that started it resumes it after a decision), with
   * its `run_claimed` event. `undefined` when it is not queued: another worker got it first.
   */
  claimRun(options: {
    readonly runId: string;
    readonly workerId: string;
    readonly now: number;
    readonly leaseMs: number;
  }): Promise<RunRecord | undefined>;
  renewLeases(options: {
    readonly workerId: string;
    readonly runIds: readonly string[];
    readonly now: number;
    readonly leaseMs: number;
  }): Promise<LeaseRenewal>;
  /** Give a run back so another worker can claim it at once. */
  releaseLease(runId: string, workerId: string): Promise<void>;
  /**
   * Park a run this worker holds: append `events` and make it `waiting` without a lease, in one
   * commit, unless a call of `step` at `callIndexes` was decided meanwhile. Returns whether it
   * parked; `lease_lost` when the guard fails.
   */
  suspendRun(options: SuspendRun): Promise<boolean>;
  /** Flag a run for cancellation; returns the record (undefined when unknown). */
  requestCancel(runId: string, now: number): Promise<RunRecord | undefined>;
  /**
   * Hear of runs a decision or an expiry made claimable, in any process (PostgreSQL
   * LISTEN/NOTIFY). On SQLite only this process decides for its workers, so nothing is heard.
   * Resolves to an unsubscribe function.
   */
  onRunReady(listener: (runId: string) => void): Promise<() => Promise<void>>;
  /**
   * Hear which runs' journals grew, in any process (PostgreSQL LISTEN/NOTIFY; an empty run id
   * means "look at every run": the subscription was just (re)opened). On SQLite nothing is
   * heard: readers poll. Resolves to an unsubscribe function.
   */
  onRunEvents?(listener: (runId: string) => void): Promise<() => Promise<void>>;
}
