import type { Store } from '../store/index.js';

/** A decided value and its confidence, as the cache returns it. */
export interface CachedDecision {
  readonly decisionId: string;
  readonly value: unknown;
  readonly confidence: number;
}

/**
 * Where `decide()` looks up identical decisions (same schema, instructions and normalised
 * input) made at temperature 0.
 *
 * ```ts
 * const cache = storeDecisionCache(store); // or memoryDecisionCache()
 * await decide({ ...options, cache });
 * ```
 */
export interface DecisionCache {
  get(cacheKey: string): Promise<CachedDecision | undefined>;
  set(cacheKey: string, decision: CachedDecision): Promise<void>;
}

/** A process-local cache of at most `maxEntries` decisions (oldest dropped first). */
export function memoryDecisionCache({ maxEntries = 10_000 } = {}): DecisionCache {
  const entries = new Map<string, CachedDecision>();
  return {
    get(cacheKey) {
      return Promise.resolve(entries.get(cacheKey));
    },
    set(cacheKey, decision) {
      entries.delete(cacheKey);
      entries.set(cacheKey, decision);
      const oldest = entries.keys().next();
      if (entries.size > maxEntries && !oldest.done) entries.delete(oldest.value);
      return Promise.resolve();
    },
  };
}

/**
 * A cache shared by every process on the store: a hit is the latest `decided` record with the
 * key. Decisions saved by `decide({ store })` fill it; `set` has nothing more to write.
 */
export function storeDecisionCache(store: Store): DecisionCache {
  return {
    async get(cacheKey) {
      const record = await store.decisions.findCached(cacheKey);
      return record
        ? { decisionId: record.id, value: record.value, confidence: record.confidence }
        : undefined;
    },
    set: () => Promise.resolve(),
  };
}
