import { digest } from '../core/index.js';
import type { Alert } from '../observe/index.js';
import type { McpPinRecord } from '../store/index.js';

/** One MCP tool withheld from the model: what the alert says. */
export interface WithheldTool {
  readonly server: string;
  readonly tool: string;
  /** `changed`: its pin differs; `unpinned`: it has none. */
  readonly state: 'changed' | 'unpinned';
  readonly fingerprint: string;
  readonly pinnedFingerprint: string | null;
  /** When the definition was first seen. */
  readonly at: number;
}

/**
 * The alert for a withheld MCP tool. Its id is stable for the server, tool and definition, so
 * every process that sees the same change raises the same alert.
 *
 * ```ts
 * const alert = withheldToolAlert({ server: 'orders', tool: 'send_reply', state: 'changed', fingerprint, pinnedFingerprint, at });
 * ```
 */
export function withheldToolAlert(withheld: WithheldTool): Alert {
  const { server, tool, state, fingerprint, pinnedFingerprint } = withheld;
  const what =
    state === 'changed'
      ? `changed its definition (${fingerprint.slice(0, 12)}, pinned ${pinnedFingerprint?.slice(0, 12) ?? '?'})`
      : `has no pinned definition (${fingerprint.slice(0, 12)})`;
  const quotedServer = shellQuote(server);
  return {
    id: `alert_${digest(`mcp:${server}:${tool}:${fingerprint}`).slice(0, 16)}`,
    kind: 'mcp_tool_withheld',
    runId: '',
    agent: `mcp:${server}`,
    at: withheld.at,
    metric: tool,
    value: 1,
    threshold: 0,
    baseline: null,
    message: `MCP server "${server}": tool "${tool}" ${what}; it is withheld from the model until a person approves it`,
    commands: [
      `keel mcp diff ${quotedServer}`,
      `keel mcp approve ${quotedServer} ${shellQuote(tool)}`,
    ],
  };
}

/**
 * The alerts of every MCP tool waiting for approval in the store: the same alerts the
 * processes that withheld them raised, derived again. Newest first.
 */
export function withheldToolAlerts(records: readonly McpPinRecord[]): Alert[] {
  return records
    .flatMap((record) =>
      record.pending
        ? [
            withheldToolAlert({
              server: record.server,
              tool: record.tool,
              state: record.pinned ? 'changed' : 'unpinned',
              fingerprint: record.pending.fingerprint,
              pinnedFingerprint: record.pinned?.fingerprint ?? null,
              at: record.pending.at,
            }),
          ]
        : [],
    )
    .sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
