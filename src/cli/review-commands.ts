import { Option, type Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

const TOKEN_ENV = 'KEEL_APPROVER_TOKEN';

/**
 * `keel reviews` and `keel review <id> --choose <value>`: decisions a model was not sure
 * enough of wait here for a human. Choosing needs an approver token; a routing decision then
 * starts the chosen agent's run.
 */
export function registerReviewCommands(program: Command, { globals, printJson }: Helpers): void {
  program
    .command('reviews')
    .description(
      "list decisions waiting for a human choice: the model's pick, confidence and reasoning, the options, the fallback",
    )
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const { listReviews } = await import('./review-actions.js');
      await listReviews(globals(), printJson, options.json ?? false);
    });

  program
    .command('review')
    .description('settle a decision under review; a routing decision starts the chosen run')
    .argument('<decisionId>')
    .requiredOption('--choose <value>', 'the value (JSON, or a plain string)')
    .addOption(new Option('--token <token>', 'approver token').env(TOKEN_ENV))
    .option('--json', 'print one JSON document')
    .action(async (id: string, options: { choose: string; token?: string; json?: boolean }) => {
      const { chooseReview } = await import('./review-actions.js');
      await chooseReview(globals(), printJson, id, options);
    });
}
