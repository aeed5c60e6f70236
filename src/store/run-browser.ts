import type { StoredEvent } from '../journal/index.js';
import type { RunRecord, RunRecordStatus } from './run-journal.js';

/** Where a page of runs ends: the next page starts strictly after it (newest first). */
export interface RunCursor {
  readonly createdAt: number;
  readonly id: string;
}

/**
 * Which runs to list. Every filter is optional and they combine with AND. Each run carries its
 * agent `version` and, on a shadow run, `shadowOf` (listed with the other runs unless filtered).
 */
export interface RunListQuery {
  /** Only runs of these agents: the agents a viewer may see. Empty: no run at all. */
  readonly visibleAgents?: readonly string[] | undefined;
  readonly agent?: string | undefined;
  /** Only runs of this agent version (`run_started.version`). */
  readonly version?: string | undefined;
  /** Shadow runs: listed with the others (`include`, default), left out, or `only` them. */
  readonly shadows?: 'include' | 'exclude' | 'only' | undefined;
  readonly statuses?: readonly RunRecordStatus[] | undefined;
  /** Why a finished run ended: its reason's `type` (`final_answer`, `limit`, ...). */
  readonly reasonTypes?: readonly string[] | undefined;
  /** Created at or after, ms since the epoch. */
  readonly createdFrom?: number | undefined;
  /** Created before, ms since the epoch. */
  readonly createdBefore?: number | undefined;
  /** Cost (as the run's journal recorded it) strictly above, USD. */
  readonly costAbove?: number | undefined;
  /** Only runs with (true) or without (false) any approval record. */
  readonly hasApprovals?: boolean | undefined;
  /**
   * Words that must all appear, whole, in the run's task or final output (runs of letters and
   * digits, case-insensitive: `ORD-1001` is the words `ord` and `1001`).
   */
  readonly search?: string | undefined;
  readonly after?: RunCursor | undefined;
  /** At most this many runs (default 50, at most 500). */
  readonly limit?: number | undefined;
}

/** A listed run and its approvals. */
export interface RunListItem {
  readonly run: RunRecord;
  readonly approvals: number;
  readonly pendingApprovals: number;
}

export interface RunListPage {
  readonly items: readonly RunListItem[];
  /** The cursor of the next page, or `null` on the last one. */
  readonly next: RunCursor | null;
}

/**
 * Read-side queries over runs for people browsing them (the dashboard): filtered, searched and
 * paged by keyset over indexes, so a page costs the same at run 100 and at run 100,000.
 *
 * ```ts
 * const page = await store.browse.list({ statuses: ['failed'], search: 'refund', limit: 50 });
 * const more = page.next ? await store.browse.list({ statuses: ['failed'], after: page.next }) : undefined;
 * ```
 */
export interface RunBrowser {
  list(query?: RunListQuery): Promise<RunListPage>;
  /** The journals of several runs in one pass, by run id (runs without events are absent). */
  readJournals(
    runIds: readonly string[],
    options?: { readonly types?: readonly string[] | undefined },
  ): Promise<Map<string, StoredEvent[]>>;
}

export const RUN_LIST_DEFAULT_LIMIT = 50;
export const RUN_LIST_MAX_LIMIT = 500;
