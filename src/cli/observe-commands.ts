import type { Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';
import { usageError } from './exit-codes.js';

/** Runs read at most by `keel costs` and `keel alerts`. */
const SCAN_LIMIT = 10_000;

/**
 * The observability commands: `trace`, `costs`. They read the store only; every figure is
 * derived from the runs' journals.
 */
export function registerObserveCommands(
  program: Command,
  globals: () => CliGlobals,
  printJson: (value: unknown) => void,
): void {
  program
    .command('trace')
    .description("a run's trace: spans with timings, tokens and cost (derived from its journal)")
    .argument('<runId>')
    .option('--json', 'print one JSON document (nested spans)')
    .option('--content', 'include message content, tool arguments and results (truncated)')
    .action(async (runId: string, options: { json?: boolean; content?: boolean }) => {
      const { openStoreFromOptions } = await import('./open-runtime.js');
      const { spansFromJournal, spanTree, traceIdOf } = await import('../observe/index.js');
      const { KeelError } = await import('../core/index.js');
      const { formatTrace } = await import('./trace-format.js');
      const store = await openStoreFromOptions(globals());
      try {
        const record = await store.getRun(runId);
        if (!record) throw new KeelError('not_found', `no run ${runId} in ${store.location}`);
        const entries = await store.readEvents(runId);
        const roots = spanTree(
          spansFromJournal(runId, entries, { captureContent: options.content === true }),
        );
        if (options.json) printJson({ runId, traceId: traceIdOf(runId), spans: roots });
        else console.log(formatTrace(runId, roots));
      } finally {
        await store.close();
      }
    });

  program
    .command('costs')
    .description('tokens and cost per agent, model, day and tool')
    .option('--since <when>', 'only runs created since: an ISO date, or 30m / 24h / 7d back')
    .option('--json', 'print one JSON document')
    .action(async (options: { since?: string; json?: boolean }) => {
      const { openStoreFromOptions } = await import('./open-runtime.js');
      const { costTotals } = await import('../observe/index.js');
      const { formatCosts, parseSince } = await import('./trace-format.js');
      const since = options.since === undefined ? undefined : parseSince(options.since, Date.now());
      if (options.since !== undefined && since === undefined) {
        throw usageError('--since must be an ISO date (2026-11-30) or a duration (30m, 24h, 7d)');
      }
      const store = await openStoreFromOptions(globals());
      try {
        const runs = (await store.listRuns({ limit: SCAN_LIMIT })).filter(
          (run) => since === undefined || run.createdAt >= since,
        );
        const journals = [];
        for (const run of runs) {
          journals.push({ runId: run.id, entries: await store.readEvents(run.id) });
        }
        const totals = costTotals(journals);
        if (options.json) {
          printJson({
            since: since === undefined ? null : new Date(since).toISOString(),
            ...totals,
          });
        } else console.log(formatCosts(totals, options.since));
      } finally {
        await store.close();
      }
    });
}
