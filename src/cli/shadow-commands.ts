import { InvalidArgumentError, type Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';
import { positiveInt } from './option-parsers.js';

/** `keel shadow start|stop|list|report`. */
export function registerShadowCommands(
  program: Command,
  {
    globals,
    printJson,
  }: { readonly globals: () => CliGlobals; readonly printJson: (value: unknown) => void },
): void {
  const shadow = program
    .command('shadow')
    .description(
      'run a candidate version of an agent on a sample of real runs: served their recorded tool results, its side effects never executed',
    );

  shadow
    .command('start')
    .description(
      'start shadowing an agent: each sampled finished run gets a paired shadow run of the candidate',
    )
    .argument('<agent>', 'the production agent')
    .requiredOption(
      '--candidate <module|version>',
      'a module exporting agents (the one named <agent> is the candidate), or a version of <agent> among the agents module\'s exported "candidates"',
    )
    .option(
      '--share <fraction>',
      'share of runs sampled, by a hash of the run id: (0, 1]',
      share,
      0.2,
    )
    .option(
      '--max-concurrent <n>',
      'shadow runs queued or running at once, at most',
      positiveInt,
      2,
    )
    .option(
      '--max-cost-usd <usd>',
      "the shadow's budget: sampling stops once its runs cost this much",
      positiveNumber,
    )
    .option(
      '--allow-live-reads',
      'let a read call with no recorded result run live (default: neutral result)',
    )
    .option('--json', 'print the shadow as JSON')
    .action(
      async (
        agent: string,
        options: {
          candidate: string;
          share: number;
          maxConcurrent: number;
          maxCostUsd?: number;
          allowLiveReads?: boolean;
          json?: boolean;
        },
      ) => {
        const { runShadowStart } = await import('./shadow-actions.js');
        await runShadowStart({ globals: globals(), agent, printJson, ...options });
      },
    );

  shadow
    .command('stop')
    .description('stop a shadow (by id), or every running shadow of an agent (by name)')
    .argument('<shadowId|agent>')
    .option('--json', 'print the stopped shadows as JSON')
    .action(async (target: string, options: { json?: boolean }) => {
      const { runShadowStop } = await import('./shadow-actions.js');
      await runShadowStop({ globals: globals(), target, json: options.json ?? false, printJson });
    });

  shadow
    .command('list')
    .description('shadows, newest first, with their pairs and cost so far')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const { runShadowList } = await import('./shadow-actions.js');
      await runShadowList({ globals: globals(), json: options.json ?? false, printJson });
    });

  shadow
    .command('report')
    .description(
      'compare each production run with its shadow run, and the candidate with production per metric (sign test, bootstrap interval)',
    )
    .argument('[shadowId]', 'one shadow (default: all)')
    .option(
      '--json',
      'print one JSON document: { pairs, executedSideEffects, suppressedCalls, metrics: { … } }',
    )
    .option(
      '--suite <path>',
      "an evaluation suite (file or directory): each pair's runs are checked against the assertions of its task's case (assertionsPassed)",
    )
    .action(async (shadowId: string | undefined, options: { json?: boolean; suite?: string }) => {
      const { runShadowReport } = await import('./shadow-actions.js');
      await runShadowReport({
        globals: globals(),
        shadowId,
        json: options.json ?? false,
        printJson,
        suite: options.suite,
      });
    });
}

function share(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed > 0 && parsed <= 1))
    throw new InvalidArgumentError('must be a number in (0, 1], e.g. 0.2');
  return parsed;
}

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed > 0) || !Number.isFinite(parsed))
    throw new InvalidArgumentError('must be a positive number');
  return parsed;
}
