// The CLI reference (docs/cli.md), generated from the commander definitions so it cannot drift:
// `npm run docs:cli` writes it, and scripts/cli-reference.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Argument, Command, Option } from 'commander';
import { format, resolveConfig } from 'prettier';
import { KEEL_ERROR_CODES, KeelError } from '../src/core/index.js';
import { describeFailure } from '../src/cli/exit-codes.js';

/** Where the reference is written, from the repository's root. */
export const CLI_REFERENCE_PATH = 'docs/cli.md';

/** The `keel` program with every command defined and none run. */
export async function keelProgram(): Promise<Command> {
  (globalThis as Record<symbol, unknown>)[Symbol.for('keel.cli.defineOnly')] = true;
  const { program } = await import('../src/cli/main.js');
  return program;
}

/** The reference as it is committed: Markdown, formatted with the repository's Prettier settings. */
export async function formattedCliReference(program: Command, root: string): Promise<string> {
  const path = `${root}${CLI_REFERENCE_PATH}`;
  return await format(cliReference(program), { ...(await resolveConfig(path)), filepath: path });
}

/** The whole reference, as Markdown. */
export function cliReference(program: Command): string {
  const lines = [
    '# CLI reference',
    '',
    '<!-- Generated from the commander definitions by `npm run docs:cli`; do not edit by hand. -->',
    '',
    text(program.description()),
    '',
    '```',
    `keel [global options] <command> [options]`,
    '```',
    '',
    '## Global options',
    '',
    ...optionList(program.options),
    '',
    '## Exit codes',
    '',
    ...exitCodes(),
    '',
    '## Commands',
    '',
    ...commandIndex(program),
    '',
  ];
  for (const command of program.commands) {
    lines.push(...commandSection(command, ['keel']));
  }
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

function commandIndex(program: Command): string[] {
  const rows: string[] = ['| command | what it does |', '| --- | --- |'];
  const walk = (command: Command, path: string[]): void => {
    const name = [...path, command.name()].join(' ');
    rows.push(`| [\`${name}\`](#${anchor(name)}) | ${cell(command.description())} |`);
    for (const child of visible(command)) walk(child, [...path, command.name()]);
  };
  for (const command of visible(program)) walk(command, ['keel']);
  return rows;
}

function commandSection(command: Command, path: string[]): string[] {
  if (hidden(command)) return [];
  const name = [...path, command.name()].join(' ');
  const args = command.registeredArguments.map(argumentUsage).join(' ');
  const children = visible(command);
  const usage = `${name}${command.options.length > 0 ? ' [options]' : ''}${children.length > 0 ? ' <command>' : ''}${args ? ` ${args}` : ''}`;
  const lines = [
    `${'#'.repeat(Math.min(path.length + 2, 4))} ${name}`,
    '',
    text(command.description()),
    '',
    '```',
    usage,
    '```',
    '',
  ];
  const described = command.registeredArguments.filter((argument) => argument.description !== '');
  if (described.length > 0) {
    lines.push('Arguments:', '');
    for (const argument of described) {
      lines.push(`- \`${argumentUsage(argument)}\` — ${text(argument.description)}`);
    }
    lines.push('');
  }
  const options = command.options.filter((option) => !option.hidden);
  if (options.length > 0) lines.push('Options:', '', ...optionList(options), '');
  for (const child of children) lines.push(...commandSection(child, [...path, command.name()]));
  return lines;
}

function optionList(options: readonly Option[]): string[] {
  return options.map((option) => {
    const extras = [
      option.defaultValue === undefined
        ? ''
        : `default: \`${JSON.stringify(option.defaultValue)}\``,
      option.envVar === undefined ? '' : `env: \`${option.envVar}\``,
      option.argChoices ? `one of: ${option.argChoices.map((c) => `\`${c}\``).join(', ')}` : '',
    ].filter((extra) => extra !== '');
    const suffix = extras.length > 0 ? ` (${extras.join('; ')})` : '';
    return `- \`${option.flags}\` — ${text(option.description)}${suffix}`;
  });
}

function exitCodes(): string[] {
  const byExit = new Map<number, string[]>();
  for (const code of KEEL_ERROR_CODES) {
    const { exitCode } = describeFailure(new KeelError(code, code));
    byExit.set(exitCode, [...(byExit.get(exitCode) ?? []), `\`${code}\``]);
  }
  return [
    '- `0` — done; for `keel run`, the run succeeded.',
    `- \`1\` — a run that did not succeed (failed, stopped, escalated, cancelled), or a fault: ${(byExit.get(1) ?? []).join(', ')}; also any unexpected error.`,
    `- \`2\` — bad usage (a one-line message on stderr): ${(byExit.get(2) ?? []).join(', ')}; and unknown commands or options.`,
    '',
    'Every error is one line on stderr that starts with `keel:`; none prints a stack trace.',
  ];
}

function argumentUsage(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

function visible(command: Command): Command[] {
  return command.commands.filter((child) => !hidden(child));
}

function hidden(command: Command): boolean {
  return (command as unknown as { _hidden?: boolean })._hidden === true;
}

function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/** Prose for Markdown: `<server>` would otherwise be read as an HTML tag and vanish. */
function text(prose: string): string {
  return prose.replace(/</g, '\\<');
}

function cell(prose: string): string {
  return text(prose).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  writeFileSync(
    `${root}${CLI_REFERENCE_PATH}`,
    await formattedCliReference(await keelProgram(), root),
  );
  console.log(`wrote ${CLI_REFERENCE_PATH}`);
}
