import { print, printError, writeErr, writeOut } from './terminal.js';
import { Command, CommanderError, Option } from 'commander';
import { describeFailure, EXIT, usageError } from './exit-codes.js';
import { registerObserveCommands } from './observe-commands.js';
import { registerApprovalCommands } from './approval-commands.js';
import { registerReviewCommands } from './review-commands.js';
import { registerMcpCommands } from './mcp-commands.js';
import { registerEvalCommands } from './eval-commands.js';
import { registerShadowCommands } from './shadow-commands.js';
import { registerRunCommands } from './run-commands.js';
import { keelVersion } from './version.js';
import { jsonText } from './json-text.js';
import {
  limit as parseLimit,
  nonNegativeInt as parseNonNegativeInt,
  positiveInt as parsePositiveInt,
} from './option-parsers.js';
import { MAX_LIST_LIMIT } from '../core/index.js';
import type { ShadowClaims } from '../store/index.js';
import { registerInitCommand } from './init-command.js';
import { registerDoctorCommand } from './doctor-command.js';

interface GlobalOptions {
  store?: string;
  agents?: string;
}

const program = new Command('keel')
  .description('Run LLM agents durably, bounded and observed.')
  .addOption(
    new Option('--store <url>', 'store URL: sqlite:<path> or postgres://...').env('KEEL_STORE'),
  )
  .option(
    '--agents <module>',
    'module exporting the agents, .ts or .js (default: keel.config.ts, else the demo agents)',
  )
  .version(keelVersion(), '-V, --version', 'print the version of keel')
  .exitOverride()
  .configureOutput({
    writeErr: (text) => {
      writeErr(text);
    },
    // Usage errors are one line, like every other error; `--help` has the details.
    outputError: (text, write) => {
      write(
        `keel: ${text
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')
          .trim()} (see --help)\n`,
      );
    },
  });

program
  .command('agents')
  .description('list the runnable agents')
  .option('--json', 'print one JSON document')
  .action(async (options: { json?: boolean }) => {
    const { loadAgents } = await import('./load-agents.js');
    const { agents, source } = await loadAgents(globals().agents);
    const list = agents.map((agent) => ({
      name: agent.name,
      description: agent.description,
      model: { provider: agent.model.provider, modelId: agent.model.modelId },
      tools: agent.tools.map((tool) => ({ name: tool.name, effect: tool.effect })),
      limits: agent.limits,
    }));
    if (options.json) {
      printJson({ source, agents: list });
      return;
    }
    print(`agents from ${source}:`);
    for (const agent of list) {
      const tools = agent.tools.map((tool) => `${tool.name}[${tool.effect}]`).join(', ');
      print(`  ${agent.name.padEnd(12)} ${agent.description}`);
      print(
        `  ${''.padEnd(12)} model ${agent.model.provider}:${agent.model.modelId}; tools ${tools || 'none'}`,
      );
    }
  });

registerRunCommands(program, { globals, printJson });

program
  .command('runs')
  .description('list recent runs')
  .option('--json', 'print one JSON document')
  .option('--limit <n>', `how many (at most ${MAX_LIST_LIMIT})`, parseLimit, 20)
  .option('--status <status>', 'only runs with this status')
  .action(async (options: { json?: boolean; limit: number; status?: string }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { formatRunsTable, withJournalTotals } = await import('./format.js');
    const { RUN_RECORD_STATUSES } = await import('../store/index.js');
    const statuses = options.status === undefined ? undefined : [options.status];
    if (
      options.status !== undefined &&
      !(RUN_RECORD_STATUSES as readonly string[]).includes(options.status)
    ) {
      throw usageError(`--status must be one of ${RUN_RECORD_STATUSES.join(', ')}`);
    }
    const store = await openStoreFromOptions(globals(), { readOnly: true });
    try {
      const records = await store.listRuns({
        limit: options.limit,
        shadows: 'include',
        ...(statuses ? { statuses: statuses as (typeof RUN_RECORD_STATUSES)[number][] } : {}),
      });
      // Steps, tokens and cost from each journal: a waiting or cancelled run has them too, and
      // a cost is unknown (null) when any call's price was.
      const runs = await withJournalTotals(store, records);
      if (options.json) printJson({ runs });
      else print(formatRunsTable(runs));
    } finally {
      await store.close();
    }
  });

program
  .command('show')
  .description(
    "show a run's state and its journal; secrets (the tools' secret fields, the runtime's redactors, card numbers, national ids) are shown redacted unless --reveal",
  )
  .argument('<runId>')
  .option('--json', 'print one JSON document')
  .option('--reveal', 'show secrets as stored')
  .action(async (runId: string, options: { json?: boolean; reveal?: boolean }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { formatShow, showJson } = await import('./format.js');
    const { foldRun } = await import('../journal/index.js');
    const store = await openStoreFromOptions(globals(), { readOnly: true });
    try {
      const { runForDisplay } = await import('./open-runtime.js');
      const run = await runForDisplay(store, runId, options.reveal === true, globals());
      const state = foldRun(run.entries.map((entry) => entry.event));
      if (options.json) printJson(run.shown(showJson(run.record, state, run.entries)));
      else print(run.shown(formatShow(run.record, state, run.entries)));
    } finally {
      await store.close();
    }
  });

program
  .command('worker')
  .description('claim and execute queued runs until stopped (Ctrl-C releases held runs)')
  .option('--concurrency <n>', 'runs executed at once', parsePositiveInt, 32)
  .option('--poll <ms>', 'idle poll interval', parsePositiveInt, 200)
  .option(
    '--wait-for-store <seconds>',
    'at start, keep trying a PostgreSQL store that is restarting or starting up this long (0: fail at once)',
    parseNonNegativeInt,
    60,
  )
  .addOption(
    new Option(
      '--shadows <which>',
      'shadow runs: also (after production runs, never beside one here), never (a production worker), only (a worker for candidates)',
    )
      .choices(['also', 'never', 'only'])
      .default('also'),
  )
  .action(
    async (options: {
      concurrency: number;
      poll: number;
      waitForStore: number;
      shadows: ShadowClaims;
    }) => {
      const { openRuntime } = await import('./open-runtime.js');
      const { colorStatus } = await import('./format.js');
      const { describeReason } = await import('../journal/index.js');
      const { runtime, close, storeLocation } = await openRuntime(globals(), {
        waitMs: options.waitForStore * 1_000,
        onWait(fault) {
          console.error(
            `store unreachable, waiting up to ${options.waitForStore} s for it: ${describeFailure(fault).line}`,
          );
        },
      });
      const worker = runtime.startWorker({
        concurrency: options.concurrency,
        pollMs: options.poll,
        shadows: options.shadows,
        onRunEnd(runId, result) {
          if (result)
            print(`${runId} ${colorStatus(result.status)} — ${describeReason(result.reason)}`);
          else
            void runtime.store.getRun(runId).then(
              (record) => {
                print(
                  record?.status === 'waiting'
                    ? `${runId} waiting for an approval (see \`keel approvals\`)`
                    : `${runId} released`,
                );
              },
              () => {
                print(`${runId} released`);
              },
            );
        },
        onError(runId, error) {
          printError(describeFailure(error).line + (runId ? ` (run ${runId})` : ''));
        },
        onStoreOutage(outage) {
          if (outage.state === 'down')
            console.error(
              `store unreachable, retrying with backoff: ${describeFailure(outage.error).line}`,
            );
          else console.error(`store reachable again after ${Math.round(outage.downMs / 1000)} s`);
        },
      });
      print(
        `worker ${runtime.workerId} on ${storeLocation}; agents: ${runtime.agents.map((agent) => agent.name).join(', ')}${options.shadows === 'also' ? '' : `; shadow runs: ${options.shadows}`}`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => {
          resolve();
        });
        process.once('SIGTERM', () => {
          resolve();
        });
      });
      print(`stopping: releasing ${worker.inFlight} held run(s) for other workers`);
      await close();
    },
  );

program
  .command('cancel')
  .description('cancel a run (a queued run ends at once; a running one within a heartbeat)')
  .argument('<runId>')
  .option('--json', 'print one JSON document')
  .action(async (runId: string, options: { json?: boolean }) => {
    const { openRuntime } = await import('./open-runtime.js');
    const { colorStatus } = await import('./format.js');
    const { runtime, close } = await openRuntime(globals());
    try {
      const record = await runtime.cancel(runId);
      if (options.json)
        printJson({
          id: record.id,
          status: record.status,
          cancelRequested: record.cancelRequested,
        });
      else if (record.status === 'running')
        print(`${runId} cancel requested; its worker stops it at the next heartbeat`);
      else print(`${runId} ${colorStatus(record.status)}`);
    } finally {
      await close();
    }
  });

program
  .command('demo')
  .description('run the support-desk demo on the simulator and print a summary')
  .option('--json', 'print one JSON document')
  .action(async (options: { json?: boolean }) => {
    const { runDemoCommand } = await import('./demo-command.js');
    await runDemoCommand({ json: options.json ?? false, store: globals().store });
  });

const audit = program
  .command('audit')
  .description(
    'check the tamper-evident audit log (tool calls, approvals, approvers, run finishes); set KEEL_AUDIT_KEY for a keyed chain',
  );
audit
  .command('verify')
  .description(
    'recompute the audit chain (with KEEL_AUDIT_KEY when set), check it against every checkpoint, and report the first problem (exit 1)',
  )
  .option('--checkpoint <file...>', 'also check against checkpoint files kept outside the store')
  .option('--json', 'print one JSON document')
  .action(async (options: { json?: boolean; checkpoint?: string[] }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { runAuditVerify } = await import('./audit-command.js');
    const store = await openStoreFromOptions(globals(), { readOnly: true });
    try {
      process.exitCode = await runAuditVerify({
        store,
        json: options.json ?? false,
        checkpointFiles: options.checkpoint ?? [],
      });
    } finally {
      await store.close();
    }
  });
audit
  .command('checkpoint')
  .description(
    'record the audit chain head (signed with KEEL_AUDIT_KEY when set) in the store, and in a new file with --out',
  )
  .option(
    '--out <file>',
    'also write it to this file (never overwritten); keep it off the store host',
  )
  .option('--json', 'print one JSON document')
  .action(async (options: { json?: boolean; out?: string }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { runAuditCheckpoint } = await import('./audit-command.js');
    const store = await openStoreFromOptions(globals());
    try {
      await runAuditCheckpoint({ store, json: options.json ?? false, out: options.out });
    } finally {
      await store.close();
    }
  });

program
  .command('prune')
  .description(
    'remove finished runs older than a duration and everything derived from them (events, results, approvals, decisions, evaluation attempts), and audit rows as old (a signed checkpoint keeps keel audit verify green); never queued, running or waiting runs',
  )
  .requiredOption('--older-than <duration>', 'runs that finished longer ago than this: 30d, 12h')
  .option(
    '--status <status...>',
    'only runs that ended so: succeeded, failed, stopped, escalated, cancelled',
  )
  .option('--dry-run', 'count what would be removed; remove nothing')
  .option('--batch-size <n>', 'runs per transaction (1-1000)', '100')
  .option('--json', 'print one JSON document')
  .action(
    async (options: {
      olderThan: string;
      status?: string[];
      dryRun?: boolean;
      batchSize: string;
      json?: boolean;
    }) => {
      const { runPrune, parsePruneOptions } = await import('./prune-command.js');
      const { openStoreFromOptions } = await import('./open-runtime.js');
      const parsed = parsePruneOptions(options);
      const store = await openStoreFromOptions(globals());
      try {
        await runPrune({ store, ...parsed, json: options.json ?? false });
      } finally {
        await store.close();
      }
    },
  );

program
  .command('erase')
  .description(
    "replace a finished run's secrets (the tools' secret fields and the values they held, the runtime's redactors, card numbers, national ids) in its task, output, journal, approvals and stored results (data-protection requests); the audit log, which holds only digests, still verifies",
  )
  .argument('<runId>')
  .option('--json', 'print one JSON document')
  .action(async (runId: string, options: { json?: boolean }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { eraseRun } = await import('../engine/index.js');
    const store = await openStoreFromOptions(globals());
    try {
      const { knownSecrets } = await import('./open-runtime.js');
      const changed = await eraseRun(store, runId, { known: await knownSecrets(globals()) });
      if (options.json) printJson({ runId, ...changed });
      else
        print(
          `erased run ${runId}: ${changed.events} journal events, ${changed.approvals} approvals, ${changed.results} stored results changed`,
        );
    } finally {
      await store.close();
    }
  });

program
  .command('prices')
  .description('model prices')
  .command('recompute')
  .description('re-price stored runs from their recorded usage with the current prices')
  .option('--prices <file>', 'price override file (default: keel.prices.json when present)')
  .option('--run <id...>', 'only these runs (default: the newest --limit runs)')
  .option(
    '--limit <n>',
    'how many recent runs (any number: this is a batch)',
    parsePositiveInt,
    1000,
  )
  .option('--dry-run', 'report the new costs without saving them')
  .option('--json', 'print one JSON document')
  .action(
    async (options: {
      prices?: string;
      run?: string[];
      limit: number;
      dryRun?: boolean;
      json?: boolean;
    }) => {
      const { runPricesRecompute } = await import('./prices-command.js');
      await runPricesRecompute({
        globals: globals(),
        prices: options.prices,
        runIds: options.run ?? [],
        limit: options.limit,
        dryRun: options.dryRun ?? false,
        json: options.json ?? false,
      });
    },
  );
registerObserveCommands(program, globals, printJson);
registerApprovalCommands(program, { globals, printJson });
registerReviewCommands(program, { globals, printJson });
registerMcpCommands(program, { globals, printJson });
registerEvalCommands(program, globals);
registerShadowCommands(program, { globals, printJson });
registerInitCommand(program, printJson);
registerDoctorCommand(program, { globals, printJson });

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}

function printJson(value: unknown): void {
  writeOut(`${jsonText(value)}\n`);
}

/** The command definitions, for the CLI reference (docs/cli.md is generated from them). */
export { program };

// Imported by the CLI reference's generator: define the commands, run none.
const defineOnly = (globalThis as Record<symbol, unknown>)[Symbol.for('keel.cli.defineOnly')];

// A reader that stops reading (`keel runs | head`) ends the command quietly, as it ends `ls`.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(EXIT.ok);
  });
}

try {
  if (defineOnly !== true) await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; help and version are not errors.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const { line, exitCode } = describeFailure(error);
    writeErr(`${line}\n`);
    process.exitCode = exitCode;
  }
} finally {
  // MCP servers a config started (stdio children, HTTP streams) would keep the process alive.
  const { closeLoadedTools } = await import('./load-agents.js');
  await closeLoadedTools();
}
