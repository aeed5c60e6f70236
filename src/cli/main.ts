import { print, printError, writeErr, writeOut } from './terminal.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
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
  .option('--limit <n>', 'how many', parsePositiveInt, 20)
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
  .description("show a run's state and its journal")
  .argument('<runId>')
  .option('--json', 'print one JSON document')
  .action(async (runId: string, options: { json?: boolean }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { formatShow, showJson } = await import('./format.js');
    const { foldRun } = await import('../journal/index.js');
    const { KeelError } = await import('../core/index.js');
    const store = await openStoreFromOptions(globals(), { readOnly: true });
    try {
      const record = await store.getRun(runId);
      if (!record) throw new KeelError('not_found', `no run ${runId} in ${store.location}`);
      const events = await store.readEvents(runId);
      const state = foldRun(events.map((entry) => entry.event));
      if (options.json) printJson(showJson(record, state, events));
      else print(formatShow(record, state, events));
    } finally {
      await store.close();
    }
  });

program
  .command('worker')
  .description('claim and execute queued runs until stopped (Ctrl-C releases held runs)')
  .option('--concurrency <n>', 'runs executed at once', parsePositiveInt, 32)
  .option('--poll <ms>', 'idle poll interval', parsePositiveInt, 200)
  .action(async (options: { concurrency: number; poll: number }) => {
    const { openRuntime } = await import('./open-runtime.js');
    const { colorStatus } = await import('./format.js');
    const { describeReason } = await import('../journal/index.js');
    const { runtime, close, storeLocation } = await openRuntime(globals());
    const worker = runtime.startWorker({
      concurrency: options.concurrency,
      pollMs: options.poll,
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
      `worker ${runtime.workerId} on ${storeLocation}; agents: ${runtime.agents.map((agent) => agent.name).join(', ')}`,
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
  });

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

program
  .command('audit')
  .description('check the tamper-evident audit log of tool calls')
  .command('verify')
  .description('recompute the audit hash chain and report the first broken link')
  .option('--json', 'print one JSON document')
  .action(async (options: { json?: boolean }) => {
    const { openStoreFromOptions } = await import('./open-runtime.js');
    const { runAuditVerify } = await import('./audit-command.js');
    const store = await openStoreFromOptions(globals(), { readOnly: true });
    try {
      process.exitCode = await runAuditVerify({ store, json: options.json ?? false });
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
  .option('--limit <n>', 'how many recent runs', parsePositiveInt, 1000)
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

function parsePositiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

/** The command definitions, for the CLI reference (docs/cli.md is generated from them). */
export { program };

// Imported by the CLI reference's generator: define the commands, run none.
const defineOnly = (globalThis as Record<symbol, unknown>)[Symbol.for('keel.cli.defineOnly')];

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
