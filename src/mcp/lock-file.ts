import { z } from 'zod';
import { KeelError, canonicalJson } from '../core/index.js';
import type { McpPinSource } from './mcp-tools-options.js';
import { pinDefinitions } from './inspect-server.js';
import { fingerprintOf, type McpToolDefinition } from './tool-definition.js';

/** The lock file's name by default, committed with the code that uses the servers. */
export const DEFAULT_LOCK_FILE = 'keel.mcp.lock';

/** One pinned MCP tool definition as the lock file committed with the code keeps it. */
export interface McpLockEntry {
  readonly server: string;
  readonly tool: string;
  readonly fingerprint: string;
  readonly definition: McpToolDefinition;
}

/** Pinned definitions as committed with the code: reviewable diffs, importable in production. */
export interface McpLockFile {
  readonly lockfileVersion: 1;
  readonly pins: readonly McpLockEntry[];
}

const lockSchema = z.object({
  lockfileVersion: z.literal(1),
  pins: z.array(
    z.object({
      server: z.string().min(1),
      tool: z.string().min(1),
      fingerprint: z.string().min(1),
      definition: z.object({
        name: z.string(),
        description: z.string(),
        inputSchema: z.unknown(),
        outputSchema: z.unknown(),
        annotations: z.unknown(),
      }),
    }),
  ),
});

/**
 * Every pin in the store, as a lock file (sorted by server and tool).
 *
 * ```ts
 * writeFileSync('keel.mcp.lock', lockFileText(await exportPins(store)));
 * ```
 */
export async function exportPins(store: McpPinSource): Promise<McpLockFile> {
  const records = await store.mcpPins.list();
  return {
    lockfileVersion: 1,
    pins: records.flatMap((record) =>
      record.pinned
        ? [
            {
              server: record.server,
              tool: record.tool,
              fingerprint: record.pinned.fingerprint,
              definition: record.pinned.definition as McpToolDefinition,
            },
          ]
        : [],
    ),
  };
}

/** The lock file's text: keys sorted at every depth, two-space indented, one final newline. */
export function lockFileText(lock: McpLockFile): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(lock)), null, 2)}\n`;
}

/**
 * Read a lock file. Anything malformed, or a definition whose fingerprint does not match (an
 * edited file), throws `invalid_input` naming `source`.
 */
export function parseLockFile(text: string, source: string): McpLockFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeelError('invalid_input', `${source} is not JSON`);
  }
  const checked = lockSchema.safeParse(parsed);
  if (!checked.success) {
    throw new KeelError('invalid_input', `${source}: ${z.prettifyError(checked.error)}`);
  }
  const pins = checked.data.pins.map((entry) => ({
    ...entry,
    definition: {
      name: entry.definition.name,
      description: entry.definition.description,
      inputSchema: entry.definition.inputSchema ?? null,
      outputSchema: entry.definition.outputSchema ?? null,
      annotations: entry.definition.annotations ?? null,
    },
  }));
  for (const entry of pins) {
    if (fingerprintOf(entry.definition) !== entry.fingerprint) {
      throw new KeelError(
        'invalid_input',
        `${source}: the definition of ${entry.server}/${entry.tool} does not match its fingerprint (edited by hand?)`,
      );
    }
  }
  return { lockfileVersion: 1, pins };
}

/**
 * Pin every definition of a lock file in the store (those already pinned as they are stay as
 * they are), with an audit entry each. Returns what changed.
 */
export async function importPins(
  store: McpPinSource,
  lock: McpLockFile,
  { by, at }: { readonly by: string; readonly at: number },
): Promise<{ readonly pinned: readonly McpLockEntry[]; readonly unchanged: number }> {
  const current = new Map(
    (await store.mcpPins.list()).map((record) => [
      `${record.server}\u0000${record.tool}`,
      record.pinned?.fingerprint,
    ]),
  );
  const pinned = lock.pins.filter(
    (entry) => current.get(`${entry.server}\u0000${entry.tool}`) !== entry.fingerprint,
  );
  await pinDefinitions(store, { entries: pinned, by, at });
  return { pinned, unchanged: lock.pins.length - pinned.length };
}
