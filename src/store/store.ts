import type { AbortableOptions } from '../core/index.js';
import type { AuditEntry, NewAuditEntry } from './audit-log.js';
import type { CachedToolResult, ToolBreakerRecord } from './tool-records.js';
import type { ApprovalStore } from './approval-store.js';
import type { DecisionStore } from './decision-store.js';
import type { ResultStore } from './result-store.js';
import type { McpPinStore } from './mcp-pin-store.js';

/** Persisted format version of runs and events. A change ships as a new version, never an edit. */
export const STORE_SCHEMA_VERSION = 1;

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
export type RunRecordStatus = (typeof RUN_RECORD_STATUSES)[number];
export type TerminalStatus = Exclude<RunRecordStatus, 'queued' | 'running' | 'waiting'>;

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
}

/** A journal entry as stored. `event` is the plain-JSON event, discriminated on `type`. */
export interface StoredEvent {
  readonly runId: string;
  readonly seq: number;
  readonly at: number;
  readonly schemaVersion: number;
  readonly event: { readonly type: string } & Record<string, unknown>;
}

export interface NewEvent {
  readonly seq: number;
  readonly at: number;
  readonly event: { readonly type: string } & Record<string, unknown>;
}

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
}

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
}

/**
 * Where runs and their journals live. Two implementations share one query codebase: SQLite
 * (embedded default) and PostgreSQL (many workers on many machines). Journal writes are
 * grouped into shared commits; each `append` resolves once its events are durable.
 *
 * Faults are `KeelError`s: `store_unavailable`, `store_corrupt`, `lease_lost`, `not_found`.
 *
 * ```ts
 * const store = await openStore('sqlite:.keel/keel.db');
 * const run = await store.getRun(runId);
 * ```
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, without credentials. */
  readonly location: string;
  createRun(run: NewRun): Promise<RunRecord>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  readEvents(runId: string, options?: { afterSeq?: number }): Promise<StoredEvent[]>;
  /** Append events (and optionally finish the run) if the guard holds; else `lease_lost`. */
  append(write: JournalWrite): Promise<void>;
  /** Claim one runnable run: queued, or running with an expired lease. */
  claimNext(options: ClaimOptions): Promise<RunRecord | undefined>;
  renewLeases(options: {
    readonly workerId: string;
    readonly runIds: readonly string[];
    readonly now: number;
    readonly leaseMs: number;
  }): Promise<LeaseRenewal>;
  /** Give a run back so another worker can claim it at once. */
  releaseLease(runId: string, workerId: string): Promise<void>;
  /** Flag a run for cancellation; returns the record (undefined when unknown). */
  requestCancel(runId: string, now: number): Promise<RunRecord | undefined>;
  // The tool layer's shared state: circuit breakers, the result cache, the audit log.
  getToolBreaker(tool: string): Promise<ToolBreakerRecord | undefined>;
  /**
   * Compare-and-set: write `next` (stored with version `expectedVersion + 1`) only if the
   * breaker's version is still `expectedVersion` (0: no row yet). True when written.
   */
  putToolBreaker(next: ToolBreakerRecord, expectedVersion: number): Promise<boolean>;
  /** A cached result still fresh at `now`, or undefined. */
  getCachedToolResult(key: string, now: number): Promise<CachedToolResult | undefined>;
  /** Insert or replace a cached result; also drops this tool's entries expired at `now`. */
  putCachedToolResult(entry: CachedToolResult, now: number): Promise<void>;
  /**
   * Append entries to the hash-chained audit log, in order; resolves with the stored rows once
   * durable. Concurrent appends (from any process) share commits and stay one chain. Each
   * append is its own short transaction: never call it inside another.
   */
  appendAudit(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]>;
  /** Audit rows in `seq` order. */
  readAudit(options?: { afterSeq?: number; limit?: number }): Promise<AuditEntry[]>;
  /** Approval records, approvers and decisions; runs waiting on them. */
  readonly approvals: ApprovalStore;
  /** Schema-validated decisions and the review queue. */
  readonly decisions: DecisionStore;
  /** Large tool results, full-text indexed for recall. */
  readonly results: ResultStore;
  /** Pinned MCP tool definitions and changed ones waiting for approval. */
  readonly mcpPins: McpPinStore;
  /** Wait until the pending group commit is durable. */
  flush(options?: AbortableOptions): Promise<void>;
  close(): Promise<void>;
  /** Record runs' re-priced costs, replacing earlier re-pricings of the same runs. */
  saveRunPrices(prices: readonly RunPrice[]): Promise<void>;
  /** A run's last re-priced cost, or `undefined` when it was never re-priced. */
  getRunPrice(runId: string): Promise<RunPrice | undefined>;
}

/** A run's cost re-computed from its journal's reported usage with the current prices. */
export interface RunPrice {
  readonly runId: string;
  /** `null` when any call's model has no known price (never a made-up 0). */
  readonly costUsd: number | null;
  readonly pricedCalls: number;
  readonly unpricedCalls: number;
  readonly pricedAt: number;
}
