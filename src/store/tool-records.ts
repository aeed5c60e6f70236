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
