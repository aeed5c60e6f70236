import { parseDuration, KeelError } from '../core/index.js';
import { pruneStore } from '../engine/index.js';
import { TERMINAL_STATUSES, type Store, type TerminalStatus } from '../store/index.js';
import { usageError } from './exit-codes.js';
import { pc, print, writeOut } from './terminal.js';

/** `keel prune`'s flags, checked before the store is opened. */
export function parsePruneOptions(options: {
  olderThan: string;
  status?: string[];
  dryRun?: boolean;
  batchSize: string;
}): {
  olderThanMs: number;
  statuses: TerminalStatus[] | undefined;
  dryRun: boolean;
  batchSize: number;
} {
  let olderThanMs: number;
  try {
    olderThanMs = parseDuration(options.olderThan, '--older-than');
  } catch (error) {
    throw usageError(KeelError.isInstance(error) ? error.message : String(error));
  }
  for (const status of options.status ?? [])
    if (!(TERMINAL_STATUSES as readonly string[]).includes(status))
      throw usageError(
        `--status must be a finished state (${TERMINAL_STATUSES.join(', ')}): queued, running and waiting runs are never pruned`,
      );
  const batchSize = Number(options.batchSize);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000)
    throw usageError('--batch-size must be a whole number from 1 to 1000');
  return {
    olderThanMs,
    statuses: options.status as TerminalStatus[] | undefined,
    dryRun: options.dryRun ?? false,
    batchSize,
  };
}

/** `keel prune`: remove (or count, dry) finished runs older than the cutoff. */
export async function runPrune(options: {
  store: Store;
  olderThanMs: number;
  statuses: TerminalStatus[] | undefined;
  dryRun: boolean;
  batchSize: number;
  json: boolean;
}): Promise<void> {
  const report = await pruneStore(options.store, {
    olderThanMs: options.olderThanMs,
    statuses: options.statuses,
    dryRun: options.dryRun,
    batchSize: options.batchSize,
    now: Date.now(),
  });
  if (options.json) {
    const { runIds, ...rest } = report;
    writeOut(
      `${JSON.stringify({ store: options.store.location, ...rest, finishedBefore: new Date(report.finishedBefore).toISOString(), runIds }, null, 2)}\n`,
    );
    return;
  }
  const cutoff = new Date(report.finishedBefore).toISOString();
  print(
    report.dryRun
      ? `${pc.yellow('dry run')}: would remove ${report.runs} run${report.runs === 1 ? '' : 's'} finished before ${cutoff} and ${report.auditRows} audit row${report.auditRows === 1 ? '' : 's'}`
      : `removed ${report.runs} run${report.runs === 1 ? '' : 's'} finished before ${cutoff} and ${report.auditRows} audit row${report.auditRows === 1 ? '' : 's'} in ${report.batches} batch${report.batches === 1 ? '' : 'es'}`,
  );
}
