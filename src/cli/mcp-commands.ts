import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliGlobals } from './open-runtime.js';
import { host, port } from './option-parsers.js';
import { usageError } from './exit-codes.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

const TOKEN_ENV = 'KEEL_APPROVER_TOKEN';
const SERVER_HELP =
  'the MCP server: "stdio:<command line>" or an http(s):// URL (or, for approve, its pin name)';

/** Options every command that connects to a server takes. */
export interface ServerFlags {
  name?: string;
  header?: string[];
  json?: boolean;
}

/**
 * `keel mcp tools|pin|diff|approve|export|import|serve`: MCP servers' tools against their
 * pins, and Keel's agents served as MCP tools. Pinning and approving need an approver token
 * (`--token` or `KEEL_APPROVER_TOKEN`).
 */
export function registerMcpCommands(program: Command, { globals, printJson }: Helpers): void {
  const mcp = program
    .command('mcp')
    .description('MCP servers: their tools against pinned definitions; agents served over MCP');
  const server = (command: Command) =>
    command
      .option('--name <name>', 'the name pins are kept under (default: the command line or URL)')
      .option(
        '--header <header>',
        'an HTTP header "Name: value" (repeatable)',
        (value: string, previous: string[] | undefined) => [...(previous ?? []), header(value)],
      )
      .option('--json', 'print one JSON document');
  const token = () => new Option('--token <token>', 'approver token').env(TOKEN_ENV);

  server(
    mcp
      .command('tools')
      .description(
        "list a server's tools: effect and trust (from the agents' config), fingerprint, and whether it matches its pin",
      )
      .argument('<server>', SERVER_HELP),
  ).action(async (spec: string, options: ServerFlags) => {
    const { mcpToolsCommand } = await import('./mcp-actions.js');
    await mcpToolsCommand(globals(), printJson, spec, options);
  });

  server(
    mcp
      .command('pin')
      .description(
        "pin the server's tools that have no pin yet (or the named ones) as they are now",
      )
      .argument('<server>', SERVER_HELP)
      .argument('[tools...]', 'only these tools'),
  )
    .addOption(token())
    .action(async (spec: string, tools: string[], options: ServerFlags & { token?: string }) => {
      const { mcpPinCommand } = await import('./mcp-actions.js');
      await mcpPinCommand(globals(), printJson, spec, tools, options);
    });

  server(
    mcp
      .command('diff')
      .description(
        'what changed against the pins: live from <server> (recorded as waiting for approval), or every definition waiting in the store',
      )
      .argument('[server]', SERVER_HELP),
  ).action(async (spec: string | undefined, options: ServerFlags) => {
    const { mcpDiffCommand } = await import('./mcp-actions.js');
    await mcpDiffCommand(globals(), printJson, spec, options);
  });

  mcp
    .command('approve')
    .description(
      'approve the definitions waiting for a server (all, or the named tools): they become the pins and are offered again',
    )
    .argument('<server>', SERVER_HELP)
    .argument('[tools...]', 'only these tools')
    .option('--name <name>', 'the name pins are kept under, when <server> is a spec')
    .option('--fingerprint <fingerprint>', 'the waiting definition you reviewed (one tool)')
    .addOption(token())
    .option('--json', 'print one JSON document')
    .action(
      async (
        spec: string,
        tools: string[],
        options: { name?: string; fingerprint?: string; token?: string; json?: boolean },
      ) => {
        const { mcpApproveCommand } = await import('./mcp-actions.js');
        await mcpApproveCommand(globals(), printJson, spec, tools, options);
      },
    );

  mcp
    .command('export')
    .description('write every pin to a lock file, to commit with the code')
    .option('--out <file>', 'the lock file', 'keel.mcp.lock')
    .option('--json', 'print one JSON document')
    .action(async (options: { out: string; json?: boolean }) => {
      const { mcpExportCommand } = await import('./mcp-actions.js');
      await mcpExportCommand(globals(), printJson, options);
    });

  mcp
    .command('import')
    .description("pin every definition of a lock file (a deploy's approved tools)")
    .argument('[file]', 'the lock file', 'keel.mcp.lock')
    .addOption(token())
    .option('--json', 'print one JSON document')
    .action(async (file: string, options: { token?: string; json?: boolean }) => {
      const { mcpImportCommand } = await import('./mcp-actions.js');
      await mcpImportCommand(globals(), printJson, file, options);
    });

  mcp
    .command('serve')
    .description(
      'serve the agents as MCP tools (each call a durable, bounded run): over stdio, or streamable HTTP with --http',
    )
    .option('--http <port>', 'serve streamable HTTP at /mcp on this port', port)
    .option('--host <host>', 'with --http: the address to listen on', host, '127.0.0.1')
    .addOption(
      new Option('--bearer <token>', 'with --http: require "Authorization: Bearer <token>"').env(
        'KEEL_MCP_TOKEN',
      ),
    )
    .option('--agent <name...>', 'only these agents')
    .action(
      async (
        options: { http?: number; host: string; bearer?: string; agent?: string[] },
        command: Command,
      ) => {
        // Over stdio there is no address and no bearer check: a flag for them would do nothing.
        // (KEEL_MCP_TOKEN from the environment is left alone: it may be set for both servers.)
        const httpOnly = ['host', 'bearer'].filter(
          (name) => command.getOptionValueSource(name) === 'cli',
        );
        if (options.http === undefined && httpOnly.length > 0)
          throw usageError(
            `${httpOnly.map((name) => `--${name}`).join(' and ')} ${httpOnly.length === 1 ? 'applies' : 'apply'} only with --http (over stdio there is no address and no bearer check)`,
          );
        const { mcpServeCommand } = await import('./mcp-actions.js');
        await mcpServeCommand(globals(), options);
      },
    );
}

function header(value: string): string {
  if (!/^[A-Za-z0-9-]+:\s*\S/.test(value)) {
    throw new InvalidArgumentError('must be "Name: value"');
  }
  return value;
}
