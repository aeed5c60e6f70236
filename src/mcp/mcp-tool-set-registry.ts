import type { Tool } from '../tools/index.js';
import type { McpAlertOptions, McpPinSource } from './mcp-tools-options.js';
import type { McpPinMode } from './pin-check.js';
import type { McpToolStatus } from './tool-status.js';

/** A server's tools in Keel, with the connection and the pin checks behind them. */
export interface McpToolSet {
  /** The name pins are kept under. */
  readonly name: string;
  readonly mode: McpPinMode;
  readonly tools: readonly Tool[];
  /** Tools the server lists that Keel cannot name (invalid characters), with why. */
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
  /** Each tool as of the last check. */
  status(): McpToolStatus[];
  /** List the server's tools again and check each against its pin (journaling and alerting). */
  refresh(options?: { readonly signal?: AbortSignal }): Promise<McpToolStatus[]>;
  /** Give a set created without a store its store (and alerts); then check. */
  bind(options: { readonly store: McpPinSource; readonly alerts?: McpAlertOptions }): Promise<void>;
  /** Whether a store holds this set's pins. */
  readonly bound: boolean;
  close(): Promise<void>;
}

/**
 * Where a tool keeps its set. A symbol from the global registry, not a module's own map: the
 * CLI and a config file may load two copies of Keel (the package's bundle and its parts), and
 * each must find the other's sets.
 */
export const TOOL_SET = Symbol.for('keel.mcp.toolSet');

/** The MCP tool set a tool came from, if it came from one. */
export function mcpToolSetOf(tool: Tool): McpToolSet | undefined {
  const set = (tool as Tool & { readonly [TOOL_SET]?: McpToolSet })[TOOL_SET];
  return typeof set === 'object' ? set : undefined;
}

/** The distinct MCP tool sets `tools` came from. */
export function mcpToolSetsOf(tools: readonly Tool[]): McpToolSet[] {
  return [...new Set(tools.flatMap((tool) => mcpToolSetOf(tool) ?? []))];
}

/**
 * Give every MCP tool set among `tools` that has no store this store (and alerts), then check
 * them. The CLI does this for agents from `keel.config.ts`, whose sets are made before a store
 * is open.
 *
 * ```ts
 * await bindMcpTools(agents.flatMap((agent) => agent.tools), { store });
 * ```
 */
export async function bindMcpTools(
  tools: readonly Tool[],
  options: { readonly store: McpPinSource; readonly alerts?: McpAlertOptions },
): Promise<McpToolSet[]> {
  const sets = mcpToolSetsOf(tools);
  await Promise.all(sets.map((set) => set.bind(options)));
  return sets;
}
