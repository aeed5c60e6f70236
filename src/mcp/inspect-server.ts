import { KeelError, canonicalJson, type Trust } from '../core/index.js';
import { heuristicDetector, type InjectionDetector } from '../guard/index.js';
import type { McpPinRecord } from '../store/index.js';
import type { ToolEffect } from '../tools/index.js';
import { McpConnection, type McpListedTool } from './mcp-connection.js';
import type { McpPinSource } from './mcp-tools-options.js';
import { MCP_AUDIT_KINDS } from './pin-check.js';
import { parseServerSpec, serverName, type McpServerSpec } from './server-spec.js';
import { definitionOf, type McpToolDefinition } from './tool-definition.js';
import { toolStatus, type McpToolStatus } from './tool-status.js';

/** One tool of a server inspected live, with its pin record. */
export interface InspectedTool extends McpToolStatus {
  readonly definition: McpToolDefinition | null;
  readonly record: McpPinRecord | null;
}

/** The parts of a definition a diff compares. */
export const DEFINITION_FIELDS = [
  'name',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

/**
 * A server's tools as they are now against their pins, without changing anything: what
 * `keel mcp tools`, `pin` and `diff` start from. Tools the server no longer lists but that
 * have pins are included as `removed`.
 *
 * ```ts
 * const { name, tools } = await inspectMcpServer({ server: 'stdio:node server.mjs', store });
 * ```
 */
export async function inspectMcpServer(options: {
  readonly server: McpServerSpec;
  readonly name?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly store: McpPinSource;
  readonly effects?: Readonly<Record<string, ToolEffect>> | undefined;
  readonly trust?: Readonly<Record<string, Trust>> | undefined;
  readonly detector?: InjectionDetector | undefined;
}): Promise<{ readonly name: string; readonly tools: readonly InspectedTool[] }> {
  const address = parseServerSpec(options.server, 'server', options.headers);
  const name = options.name ?? serverName(address);
  const connection = new McpConnection({ address, name });
  let listed: McpListedTool[];
  try {
    listed = await connection.listTools();
  } catch (error) {
    throw new KeelError(
      'invalid_config',
      `cannot list the tools of MCP server "${name}": ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    await connection.close();
  }
  const records = new Map(
    (await options.store.mcpPins.list({ server: name })).map((record) => [record.tool, record]),
  );
  const definitions = new Map(listed.map((tool) => [tool.name, definitionOf(tool)]));
  const names = [...new Set([...definitions.keys(), ...records.keys()])].filter(
    (tool) => definitions.has(tool) || records.get(tool)?.pinned,
  );
  const tools = names.map((tool): InspectedTool => {
    const definition = definitions.get(tool);
    const record = records.get(tool);
    return {
      ...toolStatus({
        name: tool,
        server: name,
        serverTool: tool,
        effect: options.effects?.[tool] ?? 'irreversible',
        trust: options.trust?.[tool] ?? 'untrusted',
        definition,
        record,
        bound: true,
        detector: options.detector ?? heuristicDetector,
      }),
      definition: definition ?? null,
      record: record ?? null,
    };
  });
  return { name, tools };
}

/**
 * The fields in which two definitions differ (all of them against `null`).
 *
 * ```ts
 * changedFields(pinned, live) // ['description']
 * ```
 */
export function changedFields(
  before: unknown,
  after: unknown,
): (typeof DEFINITION_FIELDS)[number][] {
  const field = (value: unknown, key: string): string =>
    canonicalJson(
      typeof value === 'object' && value !== null
        ? ((value as Record<string, unknown>)[key] ?? null)
        : null,
    );
  return DEFINITION_FIELDS.filter((key) => field(before, key) !== field(after, key));
}

/**
 * Pin definitions as a person approved them (`by`: a name, or a lock file), with an audit
 * entry each.
 *
 * ```ts
 * await pinDefinitions(store, { entries: [{ server: 'orders', tool, fingerprint, definition }], by: 'ana', at: Date.now() });
 * ```
 */
export async function pinDefinitions(
  store: McpPinSource,
  {
    entries,
    by,
    at,
  }: {
    readonly entries: readonly {
      readonly server: string;
      readonly tool: string;
      readonly fingerprint: string;
      readonly definition: McpToolDefinition;
    }[];
    readonly by: string;
    readonly at: number;
  },
): Promise<void> {
  for (const { server, tool, fingerprint, definition } of entries) {
    await store.mcpPins.pin({ server, tool, fingerprint, definition, by, at });
    await store.audit.append([
      { kind: MCP_AUDIT_KINDS.pinned, at, data: { server, tool, fingerprint, by } },
    ]);
  }
}

/**
 * Approve the definitions waiting for `server`'s tools (all of them, or `tools`), each bound to
 * the fingerprint waiting now or to `fingerprint` when given: a definition that changed again
 * since it was reviewed is not approved (`conflict`). Nothing waiting is `not_found`.
 *
 * ```ts
 * const approved = await approvePending(store, { server: 'orders', tools: ['send_reply'], by: 'ana', at: Date.now() });
 * ```
 */
export async function approvePending(
  store: McpPinSource,
  options: {
    readonly server: string;
    readonly tools?: readonly string[] | undefined;
    readonly fingerprint?: string | undefined;
    readonly by: string;
    readonly at: number;
  },
): Promise<McpPinRecord[]> {
  const { server, by, at } = options;
  const waiting = (await store.mcpPins.list({ server })).filter((record) => record.pending);
  const chosen =
    options.tools === undefined || options.tools.length === 0
      ? waiting
      : options.tools.map((tool) => {
          const record = waiting.find((candidate) => candidate.tool === tool);
          if (!record) {
            throw new KeelError(
              'not_found',
              `no definition of "${tool}" is waiting for approval on MCP server "${server}" (see \`keel mcp diff\`)`,
            );
          }
          return record;
        });
  if (chosen.length === 0) {
    throw new KeelError(
      'not_found',
      `nothing is waiting for approval on MCP server "${server}" (see \`keel mcp diff\`)`,
    );
  }
  if (options.fingerprint !== undefined && chosen.length !== 1) {
    throw new KeelError('invalid_input', 'a fingerprint approves exactly one tool: name it');
  }
  const approved: McpPinRecord[] = [];
  for (const record of chosen) {
    const fingerprint = options.fingerprint ?? record.pending?.fingerprint ?? '';
    const done = await store.mcpPins.approve({ server, tool: record.tool, fingerprint, by, at });
    if (!done) {
      throw new KeelError(
        'conflict',
        `the definition of "${record.tool}" waiting on MCP server "${server}" is not ${fingerprint.slice(0, 12)} any more; review it again with \`keel mcp diff\``,
      );
    }
    await store.audit.append([
      {
        kind: MCP_AUDIT_KINDS.pinned,
        at,
        data: {
          server,
          tool: record.tool,
          fingerprint,
          previousFingerprint: record.pinned?.fingerprint ?? null,
          by,
        },
      },
    ]);
    approved.push(done);
  }
  return approved;
}
