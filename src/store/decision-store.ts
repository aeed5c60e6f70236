/** Where a decision stands. `review` waits for a human; the others are settled. */
export const DECISION_STATUSES = ['decided', 'fallback', 'review', 'resolved'] as const;
/** Where a stored decision stands: decided, fallen back, waiting for review, or resolved by a human. */
export type DecisionStatus = (typeof DECISION_STATUSES)[number];

/**
 * A schema-validated decision and its journal (every attempt, vote, cache hit, review and
 * fallback), plain JSON. A decision made inside a run names it (`runId`); a routing decision
 * names the run it started (`startedRunId`).
 */
export interface DecisionRecord {
  readonly id: string;
  /** `decision`, or `route` for a router's choice. */
  readonly kind: string;
  readonly status: DecisionStatus;
  readonly instructions: string;
  readonly input: unknown;
  /** The decided, chosen or fallback value; `null` while under review with no fallback. */
  readonly value: unknown;
  readonly confidence: number;
  /** Why the value is a fallback or under review. */
  readonly reason: string | null;
  /** The values a reviewer may choose from, when the schema is a closed set. */
  readonly choices: readonly unknown[] | null;
  /** Identical (schema, instructions, normalised input): the decision cache's key. */
  readonly cacheKey: string | null;
  readonly runId: string | null;
  readonly startedRunId: string | null;
  /** What to do once a human chooses (e.g. start the chosen agent's run), plain data. */
  readonly onResolve: unknown;
  readonly events: readonly unknown[];
  readonly createdAt: number;
  readonly decidedAt: number | null;
  readonly decidedBy: string | null;
}

/**
 * Decisions and their review queue, durable in the run store's database.
 *
 * ```ts
 * const waiting = await store.decisions.list({ status: 'review' });
 * await store.decisions.resolve({ id, value: 'billing', decidedBy: 'ana', at: Date.now() });
 * ```
 */
export interface DecisionStore {
  /** Insert or replace a decision record. */
  save(record: DecisionRecord): Promise<void>;
  get(id: string): Promise<DecisionRecord | undefined>;
  list(options?: {
    readonly status?: DecisionStatus;
    readonly limit?: number;
  }): Promise<DecisionRecord[]>;
  /** The latest `decided` record with this cache key. */
  findCached(cacheKey: string): Promise<DecisionRecord | undefined>;
  /**
   * Settle a decision under review with a human's value: `undefined` when it is not (or no
   * longer) under review, so two reviewers never both win.
   */
  resolve(options: {
    readonly id: string;
    readonly value: unknown;
    readonly decidedBy: string;
    readonly at: number;
    readonly event: unknown;
  }): Promise<DecisionRecord | undefined>;
  /** Record the run a resolved or decided routing decision started. */
  linkRun(id: string, startedRunId: string): Promise<void>;
}
