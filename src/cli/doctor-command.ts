import { print } from './terminal.js';
import type { Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';

/** `keel doctor`: check a deployment, one line per check, exit 1 when one fails. */
export function registerDoctorCommand(
  program: Command,
  { globals, printJson }: { globals: () => CliGlobals; printJson: (value: unknown) => void },
): void {
  program
    .command('doctor')
    .description(
      'check a deployment: store reachable and migrated, keys and prices for the models in use, OTLP endpoint reachable, an approver for every gated group, clock against PostgreSQL (exit 1 when a check fails)',
    )
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const { runDoctor, formatDoctor } = await import('./doctor-checks.js');
      const { inspectStore } = await import('./doctor-store.js');
      const { loadAgents } = await import('./load-agents.js');
      const { DEFAULT_STORE_URL } = await import('../store/index.js');
      const { EXIT } = await import('./exit-codes.js');
      const { store = DEFAULT_STORE_URL, agents } = globals();
      const checks = await runDoctor({
        storeUrl: store,
        inspectStore,
        loadAgents: () => loadAgents(agents),
        env: process.env,
      });
      const failed = checks.some((check) => check.status === 'failed');
      if (options.json) printJson({ ok: !failed, checks });
      else print(formatDoctor(checks));
      process.exitCode = failed ? EXIT.failed : EXIT.ok;
    });
}
