/** One shadow: a candidate version of an agent repeating a sample of its production runs. */
export interface ShadowRecord {
  readonly id: string;
  /** The production agent whose finished runs are sampled. */
  readonly agent: string;
  /** The candidate's agent version (same name, another version). */
  readonly candidateVersion: string;
  /** Where the candidate is loaded from by processes that did not start it (a module path). */
  readonly candidateModule: string | null;
  /** Share of production runs sampled, in [0, 1]: by a hash of the run id, so deterministic. */
  readonly share: number;
  /** Shadow runs queued or running at once, at most; a sampled run beyond it is skipped. */
  readonly maxConcurrent: number;
  /** The shadow's budget: no run is sampled once its shadow runs cost this much (USD). */
  readonly maxCostUsd: number | null;
  /** Whether a `read` call with no recorded result may run live. */
  readonly allowLiveReads: boolean;
  readonly startedAt: number;
  readonly stoppedAt: number | null;
  /** Why it stopped: `stopped` (a person), `budget` (its cost reached `maxCostUsd`). */
  readonly stopReason: string | null;
}

/** A sampled production run and the shadow run queued for it. */
export interface ShadowPair {
  readonly shadowId: string;
  readonly runId: string;
  readonly candidateRunId: string;
  readonly createdAt: number;
}

/** What a shadow's runs have used so far: for its budget and its concurrency bound. */
export interface ShadowUsage {
  readonly pairs: number;
  /** Shadow runs still queued or running. */
  readonly active: number;
  /** Cost of its shadow runs as their journals recorded it (finished and running). */
  readonly costUsd: number;
  /** Shadow runs stopped by their cost limit (what was left of the budget did not cover them). */
  readonly costStops: number;
}

/**
 * Shadows and their pairs of runs, durable in the run store's database (they survive restarts
 * and are shared by every worker on the store). Each write is one statement.
 *
 * ```ts
 * await store.shadows.save({ id: 'sh_1', agent: 'triage', candidateVersion: '2026-12-06.2', ... });
 * const active = await store.shadows.list({ active: true, agent: 'triage' });
 * ```
 */
export interface ShadowStore {
  save(record: ShadowRecord): Promise<void>;
  get(id: string): Promise<ShadowRecord | undefined>;
  /** Newest first; only running (not stopped) ones with `active`, only `agent`'s when given. */
  list(options?: {
    readonly active?: boolean | undefined;
    readonly agent?: string | undefined;
  }): Promise<ShadowRecord[]>;
  /** Stop a running shadow; `undefined` when there is none by that id. */
  stop(id: string, at: number, reason?: string): Promise<ShadowRecord | undefined>;
  /** Record a pair once: false when the production run already has one in this shadow. */
  addPair(pair: ShadowPair): Promise<boolean>;
  /** Pairs of a shadow (every shadow's without one), oldest first. */
  pairs(shadowId?: string): Promise<ShadowPair[]>;
  usage(shadowId: string): Promise<ShadowUsage>;
  /**
   * Finished production runs of `agent` (since `finishedSince`, oldest first, at most `limit`)
   * with no pair in shadow `shadowId`: what a sweep checks for pairs a dead process never queued.
   */
  unpaired(options: {
    readonly shadowId: string;
    readonly agent: string;
    readonly finishedSince: number;
    readonly limit: number;
  }): Promise<{ readonly id: string; readonly finishedAt: number }[]>;
  /** Pairs created before `createdBefore` whose shadow run was never created (a process died). */
  pairsWithoutRun(createdBefore: number): Promise<ShadowPair[]>;
}
