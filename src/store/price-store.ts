/** A run's cost re-computed from its journal's reported usage with the current prices. */
export interface RunPrice {
  readonly runId: string;
  /** `null` when any call's model has no known price (never a made-up 0). */
  readonly costUsd: number | null;
  readonly pricedCalls: number;
  readonly unpricedCalls: number;
  readonly pricedAt: number;
}

/**
 * Re-pricings of stored runs (`keel prices recompute`): the journal keeps the cost each call
 * was priced at when it ran; this keeps the latest re-computation beside it.
 *
 * ```ts
 * await store.prices.save([{ runId, costUsd: 0.0042, pricedCalls: 3, unpricedCalls: 0, pricedAt: Date.now() }]);
 * ```
 */
export interface PriceStore {
  /** Record runs' re-priced costs, replacing earlier re-pricings of the same runs. */
  save(prices: readonly RunPrice[]): Promise<void>;
  /** A run's last re-priced cost, or `undefined` when it was never re-priced. */
  get(runId: string): Promise<RunPrice | undefined>;
}
