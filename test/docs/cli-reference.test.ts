import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CLI_REFERENCE_PATH,
  cliReference,
  formattedCliReference,
  keelProgram,
} from '../../scripts/cli-reference.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the CLI reference', () => {
  it('is what the commander definitions generate today (run `npm run docs:cli` when this fails)', async () => {
    const committed = readFileSync(`${root}${CLI_REFERENCE_PATH}`, 'utf8');
    expect(committed).toBe(await formattedCliReference(await keelProgram(), root));
  });

  it('lists every command and subcommand with its options', async () => {
    const program = await keelProgram();
    const reference = cliReference(program);
    for (const command of program.commands) {
      expect(reference).toContain(`### keel ${command.name()}\n`);
      for (const option of command.options) expect(reference).toContain(`\`${option.flags}\``);
      for (const child of command.commands)
        expect(reference).toContain(`#### keel ${command.name()} ${child.name()}\n`);
    }
  });
});
