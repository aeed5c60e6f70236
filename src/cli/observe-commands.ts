import { print } from './terminal.js';
import { MODEL_FORMS } from './run-commands.js';
import type { Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';
import { usageError } from './exit-codes.js';
import { nonNegativeInt } from './option-parsers.js';

/** Runs read at most by `keel costs` and `keel alerts`. */
const SCAN_LIMIT = 10_000;

/**
 * The observability commands: `trace`, `costs`, `alerts` read the store only (every figure is
 * derived from the runs' journals); `replay` re-executes a run against its journal; `fork`
 * starts a new run from a recorded one's step.
 */
export function registerObserveCommands(
  program: Command,
  globals: () => CliGlobals,
  printJson: (value: unknown) => void,
): void {
  program
    .command('trace')
    .description(
      "a run's trace: spans with timings, tokens, cost and alerts (derived from its journal)",
    )
    .argument('<runId>')
    .option('--json', 'print one JSON document (nested spans)')
    .option(
      '--content',
      'include message content, tool arguments and results (truncated; secrets redacted)',
    )
    .option('--reveal', 'with --content: show secrets as stored')
    .action(
      async (runId: string, options: { json?: boolean; content?: boolean; reveal?: boolean }) => {
        // Without --content a trace holds no content, so --reveal would have nothing to show.
        if (options.reveal === true && options.content !== true)
          throw usageError('--reveal needs --content (it shows the secrets in the content)');
        const { openStoreFromOptions } = await import('./open-runtime.js');
        const { alertsForRun, spansFromJournal, spanTree, traceIdOf, withAlerts } =
          await import('../observe/index.js');
        const { formatTrace } = await import('./trace-format.js');
        const store = await openStoreFromOptions(globals(), { readOnly: true });
        try {
          const { runForDisplay } = await import('./open-runtime.js');
          const run = await runForDisplay(store, runId, options.reveal === true, globals());
          const spans = spansFromJournal(runId, run.entries, {
            captureContent: options.content === true,
          });
          const roots = spanTree(withAlerts(spans, await alertsForRun(store, runId)));
          if (options.json)
            printJson(run.shown({ runId, traceId: traceIdOf(runId), spans: roots }));
          else print(run.shown(formatTrace(runId, roots)));
        } finally {
          await store.close();
        }
      },
    );

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
      const store = await openStoreFromOptions(globals(), { readOnly: true });
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
        } else print(formatCosts(totals, options.since));
      } finally {
        await store.close();
      }
    });

  program
    .command('alerts')
    .description(
      "runs that drifted from their agent's baseline or misbehaved (derived from the journals)",
    )
    .option('--since <when>', 'only runs finished since: an ISO date, or 30m / 24h / 7d back')
    .option('--json', 'print one JSON document')
    .action(async (options: { since?: string; json?: boolean }) => {
      const { openStoreFromOptions } = await import('./open-runtime.js');
      const { scanAlerts } = await import('../observe/index.js');
      const { alertsJson, formatAlerts, parseSince } = await import('./trace-format.js');
      const since = options.since === undefined ? undefined : parseSince(options.since, Date.now());
      if (options.since !== undefined && since === undefined) {
        throw usageError('--since must be an ISO date (2026-11-30) or a duration (30m, 24h, 7d)');
      }
      const store = await openStoreFromOptions(globals(), { readOnly: true });
      try {
        const { withheldToolAlerts } = await import('../mcp/index.js');
        // Alerts derived from the journals, and MCP tools withheld until approved (the store).
        const alerts = [
          ...(await scanAlerts(store, { since, limit: SCAN_LIMIT })),
          ...withheldToolAlerts(await store.mcpPins.list()).filter(
            (alert) => since === undefined || alert.at >= since,
          ),
        ].sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
        if (options.json) printJson(alertsJson(alerts));
        else print(formatAlerts(alerts));
      } finally {
        await store.close();
      }
    });

  program
    .command('replay')
    .description(
      're-execute a run with the current code, model replies and tool results served from its journal (no side effects)',
    )
    .argument('<runId>')
    .option('--json', 'print one JSON document: { identical, divergence, erased? }')
    .option('--reveal', "show secrets in a divergence's events as stored")
    .action(async (runId: string, options: { json?: boolean; reveal?: boolean }) => {
      const { openStoreFromOptions } = await import('./open-runtime.js');
      const { loadAgents } = await import('./load-agents.js');
      const { replayRun } = await import('../engine/index.js');
      const { KeelError } = await import('../core/index.js');
      const { formatReplay } = await import('./trace-format.js');
      const { EXIT } = await import('./exit-codes.js');
      const { agents } = await loadAgents(globals().agents);
      const store = await openStoreFromOptions(globals());
      try {
        // MCP tools check their pins in this store, as they did when the run was made.
        const { bindMcpTools } = await import('../mcp/index.js');
        await bindMcpTools(
          agents.flatMap((agent) => agent.tools),
          { store },
        );
        const record = await store.getRun(runId);
        if (!record) throw new KeelError('not_found', `no run ${runId} in ${store.location}`);
        const agent = agents.find((candidate) => candidate.name === record.agent);
        if (!agent) throw usageError(`run ${runId} is of agent "${record.agent}", not loaded here`);
        const journal = await store.readEvents(runId);
        const report = await replayRun({ agent, runId, journal });
        // A divergence shows both sides' events: redacted as the run is (the loaded agents' marks too).
        const { journalRedaction } = await import('../journal/index.js');
        const redaction = journalRedaction(
          journal.map((entry) => entry.event),
          { tools: agent.tools },
        );
        const shown = options.reveal ? report : redaction.value(report);
        if (options.json) printJson(shown);
        else print(formatReplay(shown));
        process.exitCode = report.identical ? EXIT.ok : EXIT.failed;
      } finally {
        await store.close();
      }
    });

  program
    .command('fork')
    .description(
      "start a new run that reuses a run's journal before a step and runs live from there",
    )
    .argument('<runId>')
    .requiredOption('--from-step <n>', 'the first step to run again (0-based)', nonNegativeInt)
    .option(
      '--model <model>',
      `run the fork on another model (default: the run's own): ${MODEL_FORMS}`,
    )
    .option('--json', 'print one JSON document')
    .action(
      async (runId: string, options: { fromStep: number; model?: string; json?: boolean }) => {
        const { openRuntime } = await import('./open-runtime.js');
        const { formatRunResult, runJson } = await import('./format.js');
        const { EXIT } = await import('./exit-codes.js');
        const { runtime, close } = await openRuntime(globals());
        try {
          const result = await runtime.fork(runId, {
            fromStep: options.fromStep,
            model: options.model,
          });
          if (options.json)
            printJson({ ...runJson(result), forkOf: { runId, step: options.fromStep } });
          else {
            print(`fork of ${runId} from step ${options.fromStep}`);
            print(formatRunResult(result));
          }
          process.exitCode = result.status === 'succeeded' ? EXIT.ok : EXIT.failed;
        } finally {
          await close();
        }
      },
    );
}
