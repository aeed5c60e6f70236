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
  /**
   * Relevance: the weighted inverse document frequencies of the terms the result holds (see
   * `ResultStore`). Only comparable within one search.
   */
  readonly rank: number;
}

export interface ToolResultSearch {
  readonly runId: string;
  /**
   * Words and phrases to look for; a result holding any of them is a candidate. A term of
   * several words (`box 3`, `fetch_page`) is a phrase: its words side by side, in order.
   */
  readonly terms: readonly string[];
  /** At most this many matches. Default 20. */
  readonly limit?: number;
}

/**
 * Large tool results of runs, indexed for full-text search: SQLite FTS5 and PostgreSQL
 * `tsvector`, both splitting text into runs of letters and digits, so short identifiers
 * (`#3`, `A7`, `v2`, `PR-12`) are words like any other. Ranking is the same on both: each term
 * a result holds adds its inverse document frequency within the run (rare terms weigh more),
 * doubled for an identifier (a word with a digit) and tripled for a phrase (see
 * `searchTerms`); ties go to the result holding more terms, then the shorter one, then the
 * later step. Rows never change once written.
 *
 * ```ts
 * await store.results.put([{ runId, ref: 'result:12:call_12_0', step: 12, ... }]);
 * const matches = await store.results.search({ runId, terms: ['code', 'box', '3', 'box 3'], limit: 3 });
 * ```
 */
export interface ResultStore {
  /** Store results; one already stored under the same (run, ref) is kept as it was. */
  put(results: readonly StoredToolResult[]): Promise<void>;
  /** A run's results matching any term, most relevant first. */
  search(search: ToolResultSearch): Promise<ToolResultMatch[]>;
  /** One stored result, or `undefined`. */
  get(runId: string, ref: string): Promise<StoredToolResult | undefined>;
}

/** One term of a search as the engines run it: its words (a phrase if several) and weight. */
export interface SearchTerm {
  readonly words: readonly string[];
  readonly weight: number;
}

/** Terms a search runs at most (the first ones given): a bound on the query's size. */
export const MAX_SEARCH_TERMS = 64;

/**
 * The terms a search runs: each term's runs of letters and digits, lowercased (anything else
 * would be query syntax to one of the engines), once each, with the weight relevance gives a
 * match: 3 for a phrase, 2 for an identifier (a word holding a digit), else 1.
 *
 * ```ts
 * searchTerms(['Box', 'box 3', 'A7"']);
 * // [{ words: ['box'], weight: 1 }, { words: ['box', '3'], weight: 3 }, { words: ['a7'], weight: 2 }]
 * ```
 */
export function searchTerms(terms: readonly string[]): SearchTerm[] {
  const seen = new Set<string>();
  const out: SearchTerm[] = [];
  for (const term of terms) {
    const words = [...term.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)].map((match) => match[0]);
    const key = words.join(' ');
    if (words.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push({ words, weight: termWeight(words) });
    if (out.length === MAX_SEARCH_TERMS) break;
  }
  return out;
}

/**
 * How much a match on a term counts, before its rarity: a phrase 3, an identifier (a word
 * holding a digit: `3`, `a7`, `v2`) 2, any other word 1. An exact identifier says more about
 * what is asked for than a word shared by every record of its kind.
 *
 * ```ts
 * termWeight(['box', '3']); // 3
 * termWeight(['a7']); // 2
 * ```
 */
export function termWeight(words: readonly string[]): number {
  if (words.length > 1) return 3;
  return /\p{N}/u.test(words[0] ?? '') ? 2 : 1;
}
