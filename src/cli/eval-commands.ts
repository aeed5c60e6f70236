import type { Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';
import { MAX_LIST_LIMIT } from '../core/index.js';
import { limit, positiveInt } from './option-parsers.js';

/** `keel eval`, `keel eval rescore`, `keel eval record`, `keel eval list`. */
export function registerEvalCommands(program: Command, globals: () => CliGlobals): void {
  const evalCommand = program
    .command('eval')
    .description(
      'run evaluation suites: each case k times (pass^k), side effects served from fixtures or suppressed, never executed',
    )
    .argument(
      '[suite...]',
      'suite files (*.eval.ts, *.eval.js, *.json) or directories of them (default: ./evals)',
    )
    .option(
      '--json',
      'print one JSON document: { suite, cases, passed, failed, regressions, passAt1, passHatK, k, costUsd, durationMs }',
    )
    .option('--junit <file>', 'also write JUnit XML for CI')
    .option(
      '--baseline <id|file>',
      'compare with a stored eval run (ev_…) or a file written by --json; a regression exits 1',
    )
    .option('--repeat <k>', "runs per case (overrides the suites' repeat)", positiveInt)
    .option('--model <model>', "run every case on this model instead of its agent's")
    .addHelpText(
      'after',
      '\nExit codes: 0 all cases passed and nothing regressed, 1 a case failed or regressed, 2 bad input.\n' +
        'Every evaluation is stored (see `keel eval list`); `keel eval rescore <id>` judges it again.',
    )
    .action(
      async (
        paths: string[],
        options: {
          json?: boolean;
          junit?: string;
          baseline?: string;
          repeat?: number;
          model?: string;
        },
      ) => {
        const { runEvalCommand } = await import('./eval-actions.js');
        process.exitCode = await runEvalCommand({
          globals: globals(),
          paths,
          json: options.json ?? false,
          junit: options.junit,
          baseline: options.baseline,
          repeat: options.repeat,
          model: options.model,
        });
      },
    );

  const parent = (): { json?: boolean; junit?: string } => evalCommand.opts();

  evalCommand
    .command('rescore')
    .description(
      "judge a stored eval run again with the suites' current assertions; calls no model, runs nothing",
    )
    .argument('<evalRunId>')
    .argument('[suite...]', 'suite files (default: the ones the eval run used)')
    .option('--json', 'print one JSON document')
    .option('--junit <file>', 'also write JUnit XML')
    .action(
      async (evalRunId: string, paths: string[], options: { json?: boolean; junit?: string }) => {
        const { runRescoreCommand } = await import('./eval-actions.js');
        process.exitCode = await runRescoreCommand({
          globals: globals(),
          evalRunId,
          paths,
          // `--json` and `--junit` after the subcommand are read by `eval` itself.
          json: options.json ?? parent().json ?? false,
          junit: options.junit ?? parent().junit,
        });
      },
    );

  evalCommand
    .command('record')
    .description(
      'freeze a stored run into a golden case: its task, the tool results it saw as fixtures, and assertions to edit',
    )
    .argument('<runId>')
    .requiredOption(
      '--suite <file>',
      'the JSON suite to add the case to (*.eval.json; created if missing)',
    )
    .option(
      '--name <name>',
      'the case name (default: "golden: <task>"); a case of that name is replaced',
    )
    .option('--json', 'print the recorded case as JSON')
    .action(async (runId: string, options: { suite: string; name?: string; json?: boolean }) => {
      const { runEvalRecord } = await import('./eval-actions.js');
      await runEvalRecord({
        globals: globals(),
        runId,
        suite: options.suite,
        name: options.name,
        json: options.json ?? parent().json ?? false,
      });
    });

  evalCommand
    .command('list')
    .description('stored eval runs, newest first')
    .option('--json', 'print one JSON document')
    .option('--limit <n>', `how many (at most ${MAX_LIST_LIMIT})`, limit, 20)
    .action(async (options: { json?: boolean; limit: number }) => {
      const { runEvalList } = await import('./eval-actions.js');
      await runEvalList({
        globals: globals(),
        json: options.json ?? parent().json ?? false,
        limit: options.limit,
      });
    });
}
