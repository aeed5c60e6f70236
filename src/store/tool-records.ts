/** Circuit breaker states, shared by every worker through the store. */
export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/**
 * One tool's circuit breaker as stored. Plain data: every worker reads and writes the same row,
 * guarded by `version` (compare-and-set), so the breaker is shared across processes.
 */
export interface ToolBreakerRecord {
  readonly tool: string;
  readonly state: BreakerState;
  /** Consecutive counted failures while closed. */
  readonly failures: number;
  /**
   * `open`: calls fail fast until this instant, then one probe may run. `half_open`: the probe's
   * lease; past it another worker may probe. Epoch milliseconds; 0 while closed.
   */
  readonly until: number;
  readonly updatedAt: number;
  /** Incremented by every write; 0 means no row yet. */
  readonly version: number;
}

/** A cached tool result. `value` is the result's JSON text. */
export interface CachedToolResult {
  readonly key: string;
  readonly tool: string;
  readonly value: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * The tool layer's state shared by every worker: one circuit breaker row per tool
 * (compare-and-set on `version`) and the result cache.
 *
 * ```ts
 * const breaker = await store.tools.getBreaker('lookup_order');
 * ```
 */
export interface ToolStateStore {
  getBreaker(tool: string): Promise<ToolBreakerRecord | undefined>;
  /**
   * Compare-and-set: write `next` (stored with version `expectedVersion + 1`) only if the
   * breaker's version is still `expectedVersion` (0: no row yet). True when written.
   */
  putBreaker(next: ToolBreakerRecord, expectedVersion: number): Promise<boolean>;
  /** A cached result still fresh at `now`, or undefined. */
  getCachedResult(key: string, now: number): Promise<CachedToolResult | undefined>;
  /** Insert or replace a cached result; also drops this tool's entries expired at `now`. */
  putCachedResult(entry: CachedToolResult, now: number): Promise<void>;
}
