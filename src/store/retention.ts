import type { TerminalStatus } from './run-journal.js';

/** Which finished runs a pruning removes. */
export interface PruneSelection {
  /** Runs that finished before this time (epoch ms). */
  readonly finishedBefore: number;
  /** Only runs that ended in these states (default: every terminal state). */
  readonly statuses?: readonly TerminalStatus[] | undefined;
}

/** A run a pruning would remove. */
export interface PrunableRun {
  readonly id: string;
  readonly agent: string;
  readonly status: TerminalStatus;
  readonly finishedAt: number;
}

/**
 * Deleting old data in bounded batches. Only finished runs are ever selected: a queued,
 * running or waiting run (and everything it owns) is never touched. Each batch is one short
 * transaction, so workers writing meanwhile wait at most one batch.
 *
 * ```ts
 * for (let removed = -1; removed !== 0; )
 *   removed = (await store.retention.pruneRuns({ finishedBefore, limit: 100 })).length;
 * ```
 */
export interface RetentionStore {
  /** Finished runs the selection matches, oldest finish first (at most `limit`). */
  prunable(selection: PruneSelection & { readonly limit: number }): Promise<PrunableRun[]>;
  /**
   * Remove up to `limit` matching runs and everything derived from them (events, stored
   * results, approvals and their decision logs, decisions, re-pricings, evaluation attempts);
   * returns the runs removed (none when nothing is left to remove).
   */
  pruneRuns(selection: PruneSelection & { readonly limit: number }): Promise<PrunableRun[]>;
  /**
   * Rewrite what a finished run stored (its task and output, journal events, approvals' arguments,
   * stored results) through `erase`, in one transaction: for data-protection requests. The
   * audit log is left as it is (it holds digests of secrets, not the values), so it still
   * verifies. `not_found` for an unknown run, `conflict` for one not finished. Returns how many
   * rows changed.
   */
  eraseRun(
    runId: string,
    erase: (value: unknown) => unknown,
  ): Promise<{ readonly events: number; readonly approvals: number; readonly results: number }>;
  /** The last audit row written before `at` with no later-written row before it (0: none). */
  auditPrefixBefore(at: number): Promise<number>;
}
