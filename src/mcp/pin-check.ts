/** What the pin checks and pin actions write to the audit log. */
export const MCP_AUDIT_KINDS = {
  /** A definition without a pin, or differing from it, withheld (once per definition). */
  withheld: 'mcp_tool_withheld',
  /** A definition pinned: automatically, by a person, or from a lock file. */
  pinned: 'mcp_tool_pinned',
} as const;

/** Whether tools whose pins are missing or stale are pinned automatically or withheld. */
export const MCP_PIN_MODES = ['development', 'production'] as const;
/** How definitions are pinned: automatically (development) or only by a person (production). */
export type McpPinMode = (typeof MCP_PIN_MODES)[number];

/**
 * Where an MCP tool stands against its pin: `pinned` (the server's definition is the approved
 * one), `unpinned` (never approved), `changed` (differs from the approved one), `removed` (the
 * server no longer lists it), `unbound` (no store holds pins for this server yet).
 */
export const MCP_TOOL_STATES = ['pinned', 'unpinned', 'changed', 'removed', 'unbound'] as const;
/** Where an MCP tool stands against its pin: pinned and matching, unpinned, changed, or not bound to a store. */
export type McpToolState = (typeof MCP_TOOL_STATES)[number];

/**
 * What to do about a tool's state against its pin. In development a definition without a pin,
 * or one that changed, is pinned automatically (`pin`); in production it is withheld and
 * recorded as waiting for a person (`hold`). A description that raised an injection signal is
 * never pinned automatically.
 *
 * ```ts
 * pinAction({ state: 'changed', signal: null }, 'production') // 'hold'
 * ```
 */
export function pinAction(
  status: { readonly state: McpToolState; readonly signal: unknown },
  mode: McpPinMode,
): 'none' | 'pin' | 'hold' {
  if (status.state !== 'unpinned' && status.state !== 'changed') return 'none';
  return mode === 'development' && status.signal === null ? 'pin' : 'hold';
}

/** The default mode: `production` when `NODE_ENV` says so, else `development`. */
export function defaultPinMode(): McpPinMode {
  return process.env.NODE_ENV === 'production' ? 'production' : 'development';
}
