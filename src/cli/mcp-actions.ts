import { pc, print } from './terminal.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createApprovals } from '../approval/index.js';
import { KeelError, canonicalJson, type Trust } from '../core/index.js';
import {
  approvePending,
  changedFields,
  exportPins,
  importPins,
  inspectMcpServer,
  lockFileText,
  mcpToolSetOf,
  parseLockFile,
  parseServerSpec,
  pinDefinitions,
  serverName,
  type InspectedTool,
} from '../mcp/index.js';
import { serveAgentsOverHttp, serveAgentsOverStdio } from '../server/index.js';
import type { McpPinRecord, Store } from '../store/index.js';
import type { ToolEffect } from '../tools/index.js';
import { hasAgentsModule, loadAgents } from './load-agents.js';
import type { ServerFlags } from './mcp-commands.js';
import { openRuntime, openStoreFromOptions, type CliGlobals } from './open-runtime.js';
import { writeOutputFile } from './output-file.js';

type PrintJson = (value: unknown) => void;

/** `keel mcp tools <server>`: `[{ name, effect, trust, fingerprint, pinned, ... }]`. */
export async function mcpToolsCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  spec: string,
  flags: ServerFlags,
): Promise<void> {
  await withStore(globals, async (store) => {
    const { name, tools } = await inspect(globals, store, spec, flags);
    const rows = tools.map((tool) => ({
      name: tool.serverTool,
      effect: tool.effect,
      trust: tool.trust,
      fingerprint: tool.fingerprint,
      pinned: tool.pinned,
      state: tool.state,
      annotations: tool.annotations,
      signal: tool.signal,
    }));
    if (flags.json) {
      printJson(rows);
      return;
    }
    print(`tools of MCP server ${pc.bold(name)}:`);
    if (rows.length === 0) print(pc.gray('  none'));
    for (const row of rows) {
      const state = row.pinned ? pc.green('pinned') : pc.yellow(row.state);
      const signal = row.signal ? pc.red(`  signal: ${row.signal.matches.join(', ')}`) : '';
      print(
        `  ${row.name.padEnd(24)} ${row.effect.padEnd(12)} ${row.trust.padEnd(9)} ${(row.fingerprint ?? '-').slice(0, 12).padEnd(12)} ${state}${signal}`,
      );
    }
  });
}

/** `keel mcp pin <server> [tools...]`: pin unpinned tools (or the named ones) as they are. */
export async function mcpPinCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  spec: string,
  names: readonly string[],
  flags: ServerFlags & { token?: string },
): Promise<void> {
  await withStore(globals, async (store) => {
    const approver = await createApprovals({ store }).authenticate(flags.token);
    const { name, tools } = await inspect(globals, store, spec, flags);
    const chosen =
      names.length === 0
        ? tools.filter((tool) => tool.state === 'unpinned')
        : names.map((tool) => named(tools, tool, name));
    const changed = chosen.filter((tool) => tool.state === 'changed' || tool.state === 'removed');
    if (changed.length > 0) {
      throw new KeelError(
        'conflict',
        `${changed.map((tool) => tool.serverTool).join(', ')} changed since pinned: review with \`keel mcp diff\`, then \`keel mcp approve\``,
      );
    }
    const pinning = chosen.flatMap((tool) =>
      tool.state === 'unpinned' && tool.definition && tool.fingerprint
        ? [
            {
              server: name,
              tool: tool.serverTool,
              fingerprint: tool.fingerprint,
              definition: tool.definition,
            },
          ]
        : [],
    );
    await pinDefinitions(store, { entries: pinning, by: approver.name, at: Date.now() });
    const pinned = pinning.map((entry) => entry.tool);
    const waiting = tools.filter((tool) => tool.state === 'changed').map((tool) => tool.serverTool);
    if (flags.json) {
      printJson({ server: name, pinned, by: approver.name, changed: waiting });
      return;
    }
    print(
      pinned.length === 0
        ? `nothing new to pin on ${name}`
        : `pinned ${pinned.join(', ')} on ${name} (by ${approver.name})`,
    );
    if (waiting.length > 0) {
      print(pc.yellow(`changed since pinned: ${waiting.join(', ')} (see \`keel mcp diff\`)`));
    }
  });
}

/** `keel mcp diff [server]`: changed definitions against their pins. */
export async function mcpDiffCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  spec: string | undefined,
  flags: ServerFlags,
): Promise<void> {
  await withStore(globals, async (store) => {
    let rows: DiffRow[];
    if (spec === undefined) {
      rows = (await store.mcpPins.list()).flatMap((record) =>
        record.pending ? [waitingRow(record)] : [],
      );
    } else {
      const { name, tools } = await inspect(globals, store, spec, flags);
      const differing = tools.filter(
        (tool) => tool.state === 'changed' || tool.state === 'unpinned',
      );
      // Recorded as waiting, so that `keel mcp approve` approves exactly what was shown here.
      for (const tool of differing) {
        if (!tool.definition || !tool.fingerprint) continue;
        await store.mcpPins.recordPending({
          server: name,
          tool: tool.serverTool,
          fingerprint: tool.fingerprint,
          definition: tool.definition,
          at: Date.now(),
        });
      }
      rows = differing.map((tool) => liveRow(name, tool));
    }
    if (flags.json) {
      printJson({ changes: rows });
      return;
    }
    print(formatDiff(rows));
  });
}

/** `keel mcp approve <server> [tools...]`: the waiting definitions become the pins. */
export async function mcpApproveCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  spec: string,
  tools: readonly string[],
  flags: { name?: string; fingerprint?: string; token?: string; json?: boolean },
): Promise<void> {
  await withStore(globals, async (store) => {
    const approver = await createApprovals({ store }).authenticate(flags.token);
    const server = flags.name ?? pinName(spec);
    const approved = await approvePending(store, {
      server,
      tools,
      fingerprint: flags.fingerprint,
      by: approver.name,
      at: Date.now(),
    });
    const rows = approved.map((record) => ({
      server: record.server,
      tool: record.tool,
      fingerprint: record.pinned?.fingerprint ?? null,
      by: record.pinned?.by ?? approver.name,
    }));
    if (flags.json) {
      printJson({ approved: rows });
      return;
    }
    for (const row of rows) {
      print(
        `${pc.green('approved')} ${row.server} ${row.tool} ${row.fingerprint?.slice(0, 12) ?? ''} by ${row.by}: offered again at the next check`,
      );
    }
  });
}

/** `keel mcp export`: every pin to a lock file. */
export async function mcpExportCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  { out, json }: { out: string; json?: boolean },
): Promise<void> {
  await withStore(globals, async (store) => {
    const lock = await exportPins(store);
    const path = resolve(out);
    writeOutputFile(out, lockFileText(lock), '--out');
    if (json) printJson({ file: path, pins: lock.pins.length });
    else print(`wrote ${lock.pins.length} pin(s) to ${path}`);
  });
}

/** `keel mcp import [file]`: pin a lock file's definitions. */
export async function mcpImportCommand(
  globals: CliGlobals,
  printJson: PrintJson,
  file: string,
  { token, json }: { token?: string; json?: boolean },
): Promise<void> {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    throw new KeelError('invalid_input', `cannot read the lock file ${resolve(file)}`);
  }
  const lock = parseLockFile(text, file);
  await withStore(globals, async (store) => {
    const approver = await createApprovals({ store }).authenticate(token);
    const { pinned, unchanged } = await importPins(store, lock, {
      by: `${approver.name} (lock file ${file})`,
      at: Date.now(),
    });
    const names = pinned.map((entry) => `${entry.server}/${entry.tool}`);
    if (json) printJson({ pinned: names, unchanged });
    else print(`pinned ${pinned.length} definition(s) from ${file}; ${unchanged} already pinned`);
  });
}

/** `keel mcp serve`: the agents as MCP tools, over stdio or streamable HTTP. */
export async function mcpServeCommand(
  globals: CliGlobals,
  options: { http?: number; host: string; bearer?: string; agent?: string[] },
): Promise<void> {
  const { runtime, close } = await openRuntime(globals);
  try {
    const served = { runtime, agents: options.agent };
    if (options.http === undefined) {
      // stdout is the protocol channel: nothing else may be written to it.
      // Over when the client closes stdin, once every call it sent has its answer.
      const { closed } = await serveAgentsOverStdio(served);
      await closed;
      return;
    }
    const http = await serveAgentsOverHttp({
      ...served,
      port: options.http,
      host: options.host,
      token: options.bearer,
    });
    const names = (options.agent ?? runtime.agents.map((agent) => agent.name)).join(', ');
    print(`serving ${names} over MCP at ${http.url}`);
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await http.close();
  } finally {
    await close();
  }
}

interface DiffRow {
  readonly server: string;
  readonly tool: string;
  readonly state: string;
  readonly pinned: { readonly fingerprint: string; readonly definition: unknown } | null;
  readonly waiting: { readonly fingerprint: string; readonly definition: unknown } | null;
  readonly changes: readonly string[];
}

function liveRow(server: string, tool: InspectedTool): DiffRow {
  const pinned = tool.record?.pinned ?? null;
  const waiting =
    tool.fingerprint && tool.definition
      ? { fingerprint: tool.fingerprint, definition: tool.definition }
      : null;
  return {
    server,
    tool: tool.serverTool,
    state: tool.state,
    pinned: pinned && { fingerprint: pinned.fingerprint, definition: pinned.definition },
    waiting,
    changes: changedFields(pinned?.definition ?? null, waiting?.definition ?? null),
  };
}

function waitingRow(record: McpPinRecord): DiffRow {
  const { pinned, pending } = record;
  return {
    server: record.server,
    tool: record.tool,
    state: pinned ? 'changed' : 'unpinned',
    pinned: pinned && { fingerprint: pinned.fingerprint, definition: pinned.definition },
    waiting: pending && { fingerprint: pending.fingerprint, definition: pending.definition },
    changes: changedFields(pinned?.definition ?? null, pending?.definition ?? null),
  };
}

function formatDiff(rows: readonly DiffRow[]): string {
  if (rows.length === 0) return pc.gray('no definition differs from its pin');
  return rows
    .map((row) => {
      const field = (definition: unknown, key: string): string =>
        canonicalJson((definition as Record<string, unknown> | null)?.[key] ?? null);
      const lines = row.changes.flatMap((key) => [
        pc.red(`  - ${key}: ${field(row.pinned?.definition ?? null, key)}`),
        pc.green(`  + ${key}: ${field(row.waiting?.definition ?? null, key)}`),
      ]);
      const fingerprints = `${row.pinned?.fingerprint.slice(0, 12) ?? 'no pin'} → ${row.waiting?.fingerprint.slice(0, 12) ?? '-'}`;
      return [
        `${pc.bold(`${row.server} ${row.tool}`)} ${row.state} (${fingerprints})`,
        ...lines,
      ].join('\n');
    })
    .join('\n\n');
}

/** The named tool among those inspected; an unknown name is `not_found`. */
function named(tools: readonly InspectedTool[], tool: string, server: string): InspectedTool {
  const found = tools.find((candidate) => candidate.serverTool === tool);
  if (!found) throw new KeelError('not_found', `MCP server "${server}" has no tool "${tool}"`);
  return found;
}

/** A pin name from what was typed: a server spec's default name, or the name itself. */
function pinName(spec: string): string {
  return /^(stdio:|https?:\/\/)/i.test(spec.trim())
    ? serverName(parseServerSpec(spec, 'server'))
    : spec;
}

/** Inspect a server with the effects and trust its configured tool set gives, if any. */
async function inspect(globals: CliGlobals, store: Store, spec: string, flags: ServerFlags) {
  const headers = Object.fromEntries(
    (flags.header ?? []).map((line) => {
      const at = line.indexOf(':');
      return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    }),
  );
  const name = flags.name ?? serverName(parseServerSpec(spec, 'server', headers));
  const configured = await configuredTools(globals, name);
  return inspectMcpServer({ server: spec, name, headers, store, ...configured });
}

/** The effects and trust the agents' config gives a server's tools (none without a config). */
async function configuredTools(
  globals: CliGlobals,
  name: string,
): Promise<{ effects: Record<string, ToolEffect>; trust: Record<string, Trust> }> {
  const effects: Record<string, ToolEffect> = {};
  const trust: Record<string, Trust> = {};
  if (!hasAgentsModule(globals.agents)) return { effects, trust };
  const { agents } = await loadAgents(globals.agents);
  for (const tool of agents.flatMap((agent) => agent.tools)) {
    const set = mcpToolSetOf(tool);
    if (set?.name !== name) continue;
    for (const status of set.status()) {
      effects[status.serverTool] = status.effect;
      trust[status.serverTool] = status.trust;
    }
  }
  return { effects, trust };
}

async function withStore(
  globals: CliGlobals,
  work: (store: Store) => Promise<void>,
): Promise<void> {
  const store = await openStoreFromOptions(globals);
  try {
    await work(store);
  } finally {
    await store.close();
  }
}
