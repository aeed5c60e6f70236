import type { Trust } from '../core/index.js';

/**
 * A large tool result kept for recall: the full text, where it came from, and its provenance
 * label, which every recall hands on unchanged.
 */
export interface StoredToolResult {
  readonly runId: string;
  /** The reference the run's context knows it by (`result:<step>:<callId>`). */
  readonly ref: string;
  readonly step: number;
  readonly callId: string;
  readonly toolName: string;
  readonly content: string;
  readonly trust: Trust;
  /** The label's source, e.g. `tool:fetch_page`. */
  readonly source: string;
  readonly createdAt: number;
}

/** A stored result that matched a search, most relevant first. */
export interface ToolResultMatch extends StoredToolResult {
  /** Relevance by the engine's own full-text ranking: only comparable within one search. */
  readonly rank: number;
}

export interface ToolResultSearch {
  readonly runId: string;
  /** Words to look for (letters and digits); a result matching any of them is a candidate. */
  readonly terms: readonly string[];
  /** At most this many matches. Default 20. */
  readonly limit?: number;
}

/**
 * Large tool results of runs, indexed for full-text search: SQLite FTS5 (BM25) and PostgreSQL
 * `tsvector` (`ts_rank`), both with the `simple` word rules, so rare words (a name, a code)
 * outrank common ones. Rows never change once written.
 *
 * ```ts
 * await store.results.put([{ runId, ref: 'result:12:call_12_0', step: 12, ... }]);
 * const matches = await store.results.search({ runId, terms: ['zephyr', 'vault'], limit: 3 });
 * ```
 */
export interface ResultStore {
  /** Store results; one already stored under the same (run, ref) is kept as it was. */
  put(results: readonly StoredToolResult[]): Promise<void>;
  /** A run's results matching any term, most relevant first (ties: the later step first). */
  search(search: ToolResultSearch): Promise<ToolResultMatch[]>;
  /** One stored result, or `undefined`. */
  get(runId: string, ref: string): Promise<StoredToolResult | undefined>;
}

/**
 * The words a search may hold: runs of letters and digits, lowercased, deduplicated (anything
 * else would be query syntax to one of the engines).
 */
export function searchWords(terms: readonly string[]): string[] {
  const words = new Set<string>();
  for (const term of terms) {
    for (const match of term.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) words.add(match[0]);
  }
  return [...words];
}
