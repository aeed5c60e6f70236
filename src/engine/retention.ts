import { KeelError, parseDuration, type AbortableOptions } from '../core/index.js';
import { TERMINAL_STATUSES, type Store, type TerminalStatus } from '../store/index.js';

/**
 * How long finished runs are kept (`createRuntime({ retention })`): older ones are removed with
 * everything derived from them, in bounded batches, by every runtime on the store.
 */
export interface RetentionOptions {
  /** Remove runs that finished longer ago than this: `30d`, `12h` (see `parseDuration`). */
  readonly olderThan: string;
  /** Only runs that ended in these states (default: every finished state). */
  readonly statuses?: readonly TerminalStatus[] | undefined;
  /** How often to prune, in milliseconds (default one hour). */
  readonly everyMs?: number | undefined;
  /** Runs removed per transaction (default 100). */
  readonly batchSize?: number | undefined;
}

/** What a pruning removed (or, dry, would remove). */
export interface PruneReport {
  readonly dryRun: boolean;
  /** Runs that finished before this time were selected. */
  readonly finishedBefore: number;
  readonly runs: number;
  readonly runIds: readonly string[];
  /** Audit rows removed (replaced by a `prune` checkpoint of the last one). */
  readonly auditRows: number;
  readonly batches: number;
}

const MAX_BATCH = 1_000;

/**
 * Remove finished runs older than `olderThanMs` and everything derived from them, then the
 * audit rows written before the same cutoff (a `prune` checkpoint keeps `keel audit verify`
 * green). Each batch is its own short transaction and the loop yields between batches, so
 * workers are never blocked for more than one batch. Queued, running and waiting runs are
 * never selected.
 *
 * ```ts
 * const report = await pruneStore(store, { olderThanMs: 30 * 86_400_000, now: Date.now() });
 * ```
 */
export async function pruneStore(
  store: Store,
  options: {
    readonly olderThanMs: number;
    readonly now: number;
    readonly statuses?: readonly TerminalStatus[] | undefined;
    readonly dryRun?: boolean | undefined;
    readonly batchSize?: number | undefined;
  } & AbortableOptions,
): Promise<PruneReport> {
  const { olderThanMs, now, statuses, dryRun = false, batchSize = 100, signal } = options;
  if (!Number.isSafeInteger(olderThanMs) || olderThanMs <= 0)
    throw new KeelError('invalid_input', 'olderThan must be a positive duration');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH)
    throw new KeelError('invalid_input', `batchSize must be a whole number from 1 to ${MAX_BATCH}`);
  for (const status of statuses ?? [])
    if (!(TERMINAL_STATUSES as readonly string[]).includes(status))
      throw new KeelError(
        'invalid_input',
        `only finished runs are pruned: a status is one of ${TERMINAL_STATUSES.join(', ')}`,
      );
  const finishedBefore = now - olderThanMs;
  const selection = { finishedBefore, statuses };
  const runIds: string[] = [];
  let batches = 0;
  if (dryRun) {
    const runs = await store.retention.prunable({ ...selection, limit: 1_000_000 });
    runIds.push(...runs.map((run) => run.id));
  } else {
    for (;;) {
      signal?.throwIfAborted();
      const removed = await store.retention.pruneRuns({ ...selection, limit: batchSize });
      if (removed.length === 0) break;
      batches += 1;
      runIds.push(...removed.map((run) => run.id));
      // Let workers' writes in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const throughSeq = await store.retention.auditPrefixBefore(finishedBefore);
  let auditRows = 0;
  if (throughSeq > 0) {
    if (dryRun) {
      const [first] = await store.audit.read({ limit: 1 });
      auditRows = first && first.seq <= throughSeq ? throughSeq - first.seq + 1 : 0;
    } else {
      for (;;) {
        signal?.throwIfAborted();
        const removed = await store.audit.prune({ throughSeq, at: now, limit: 1_000 });
        if (removed === 0) break;
        auditRows += removed;
        batches += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  return { dryRun, finishedBefore, runs: runIds.length, runIds, auditRows, batches };
}

/** `retention` as given to `createRuntime`, checked: a bad setting fails at creation. */
export function checkRetention(retention: RetentionOptions): {
  olderThanMs: number;
  everyMs: number;
  batchSize: number;
  statuses: readonly TerminalStatus[] | undefined;
} {
  let olderThanMs: number;
  try {
    olderThanMs = parseDuration(retention.olderThan, 'createRuntime: "retention.olderThan"');
  } catch (error) {
    throw new KeelError('invalid_config', (error as Error).message);
  }
  const { everyMs = 3_600_000, batchSize = 100, statuses } = retention;
  if (!Number.isSafeInteger(everyMs) || everyMs < 1_000)
    throw new KeelError(
      'invalid_config',
      'createRuntime: "retention.everyMs" must be a whole number of milliseconds >= 1000',
    );
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH)
    throw new KeelError(
      'invalid_config',
      `createRuntime: "retention.batchSize" must be a whole number from 1 to ${MAX_BATCH}`,
    );
  for (const status of statuses ?? [])
    if (!(TERMINAL_STATUSES as readonly string[]).includes(status))
      throw new KeelError(
        'invalid_config',
        `createRuntime: "retention.statuses" holds "${status}": only finished runs are pruned (${TERMINAL_STATUSES.join(', ')})`,
      );
  return { olderThanMs, everyMs, batchSize, statuses };
}
