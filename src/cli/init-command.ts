import { print } from './terminal.js';
import type { Command } from 'commander';

/** `keel init`: scaffold a project in the working directory. */
export function registerInitCommand(program: Command, printJson: (value: unknown) => void): void {
  program
    .command('init')
    .description(
      'scaffold a project here: keel.config.ts, one agent, one tool, one eval case, .keel/ in .gitignore (never overwrites a file)',
    )
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const { initProject, formatInit } = await import('./init-project.js');
      const result = initProject(process.cwd());
      if (options.json) printJson(result);
      else print(formatInit(result));
    });
}
