/** A tool definition a person approved: the fingerprint a live definition must match. */
export interface McpPinnedDefinition {
  readonly fingerprint: string;
  /** The definition as the server described it (plain JSON), kept for diffs. */
  readonly definition: unknown;
  /** Who approved it: an approver's name, a lock file, or automatic pinning in development. */
  readonly by: string;
  readonly at: number;
}

/** A definition seen on a server that differs from the pin (or has none): waiting for a person. */
export interface McpSeenDefinition {
  readonly fingerprint: string;
  readonly definition: unknown;
  readonly at: number;
}

/** One MCP tool's pin and the definition waiting for approval, if any. Plain JSON. */
export interface McpPinRecord {
  /** The MCP server's name, as configured. */
  readonly server: string;
  /** The tool's name on that server. */
  readonly tool: string;
  readonly pinned: McpPinnedDefinition | null;
  readonly pending: McpSeenDefinition | null;
}

/** What `pin` and `recordPending` are given. */
export interface McpDefinitionEntry {
  readonly server: string;
  readonly tool: string;
  readonly fingerprint: string;
  readonly definition: unknown;
  readonly at: number;
}

/**
 * Pinned MCP tool definitions, durable in the run store's database: what a person approved per
 * (server, tool), and the changed definition waiting for approval. Every write is one statement,
 * safe from any number of processes at once.
 *
 * ```ts
 * await store.mcpPins.pin({ server: 'orders', tool: 'lookup_order', fingerprint, definition, by: 'ana', at: Date.now() });
 * const [record] = await store.mcpPins.list({ server: 'orders' });
 * ```
 */
export interface McpPinStore {
  /** Records ordered by server, then tool; only `server`'s when given. */
  list(options?: { readonly server?: string }): Promise<McpPinRecord[]>;
  /**
   * Pin a definition (a person's approval, or a lock file's). Replaces the pin; a pending
   * definition with the same fingerprint is settled by it. With `onlyIfUnpinned`, nothing is
   * written when the tool already has a pin (automatic pinning racing another process). True
   * when written.
   */
  pin(
    entry: McpDefinitionEntry & { readonly by: string; readonly onlyIfUnpinned?: boolean },
  ): Promise<boolean>;
  /**
   * Record a definition that differs from the pin, as waiting for approval. False when that
   * same fingerprint was already waiting (someone has been told already).
   */
  recordPending(entry: McpDefinitionEntry): Promise<boolean>;
  /**
   * Approve the waiting definition if its fingerprint is still `fingerprint`: it becomes the
   * pin. `undefined` when nothing (or another definition) is waiting, so a person never
   * approves a definition they did not review.
   */
  approve(options: {
    readonly server: string;
    readonly tool: string;
    readonly fingerprint: string;
    readonly by: string;
    readonly at: number;
  }): Promise<McpPinRecord | undefined>;
}
