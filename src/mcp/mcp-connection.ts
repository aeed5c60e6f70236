import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool as McpListedTool } from '@modelcontextprotocol/sdk/types.js';
import { timerDelay } from '../core/index.js';
import { mcpToolError } from './mcp-errors.js';
import { loadMcpSdk, type McpSdk } from './mcp-sdk.js';
import type { McpServerAddress } from './server-spec.js';

export type { CallToolResult, McpListedTool };

/**
 * Run one request under a signal of its own that follows `signal` only until the request
 * settles. The SDK never removes its abort listener, so a caller's signal aborted after the
 * request finished (as the executor's per-attempt timeout does on completion) would send the
 * server a cancellation of a request it already answered.
 */
async function whileRunning<T>(
  signal: AbortSignal | undefined,
  request: (requestSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const follow = (): void => {
    controller.abort(signal?.reason);
  };
  if (signal?.aborted) follow();
  else signal?.addEventListener('abort', follow, { once: true });
  try {
    return await request(controller.signal);
  } finally {
    signal?.removeEventListener('abort', follow);
  }
}

/** How long connecting (spawn or HTTP, then MCP initialisation) may take by default. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** Listing a server's tools, by default. */
export const DEFAULT_LIST_TIMEOUT_MS = 30_000;
const LIST_PAGES_MAX = 100;

export interface McpConnectionOptions {
  readonly address: McpServerAddress;
  /** The server's name in messages. */
  readonly name: string;
  /** Called when the server says its tool list changed. Must not throw. */
  readonly onToolsChanged?: (() => void) | undefined;
  readonly connectTimeoutMs?: number | undefined;
}

/**
 * One MCP client session with one server, opened on first use and opened again after the
 * transport drops (a stdio server that exited is started again). Failures are `ToolError`s
 * typed from the MCP error, the HTTP status or the network failure.
 *
 * ```ts
 * const connection = new McpConnection({ address: parseServerSpec('stdio:node server.mjs', 'server'), name: 'orders' });
 * const tools = await connection.listTools({ signal });
 * ```
 */
export class McpConnection {
  readonly #options: McpConnectionOptions;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #closed = false;

  constructor(options: McpConnectionOptions) {
    this.#options = options;
  }

  /** Every tool the server lists now, across pages. */
  async listTools({ signal }: { signal?: AbortSignal | undefined } = {}): Promise<McpListedTool[]> {
    return this.#use('tools/list', async (client) => {
      const tools: McpListedTool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < LIST_PAGES_MAX; page++) {
        const result = await whileRunning(signal, (requestSignal) =>
          client.listTools(cursor === undefined ? {} : { cursor }, {
            signal: requestSignal,
            timeout: DEFAULT_LIST_TIMEOUT_MS,
          }),
        );
        tools.push(...result.tools);
        cursor = result.nextCursor;
        if (cursor === undefined) break;
      }
      return tools;
    });
  }

  /** Call a tool; `meta` goes in the request's `_meta`. A JSON-RPC error throws a `ToolError`. */
  async callTool({
    name,
    input,
    meta,
    signal,
    timeoutMs,
  }: {
    readonly name: string;
    readonly input: Record<string, unknown>;
    readonly meta: Record<string, unknown>;
    readonly signal: AbortSignal;
    readonly timeoutMs: number;
  }): Promise<CallToolResult> {
    return this.#use(name, async (client) => {
      const result = await whileRunning(signal, (requestSignal) =>
        client.callTool({ name, arguments: input, _meta: meta }, undefined, {
          signal: requestSignal,
          timeout: timerDelay(timeoutMs),
        }),
      );
      return result as CallToolResult;
    });
  }

  /** End the session (a stdio server is stopped). A later use opens a new one. */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    this.#connecting = undefined;
    await client?.close().catch(() => undefined);
  }

  async #use<T>(what: string, work: (client: Client) => Promise<T>): Promise<T> {
    const sdk = await loadMcpSdk();
    const label = `MCP server "${this.#options.name}" ${what}`;
    try {
      return await work(await this.#session(sdk));
    } catch (error) {
      throw mcpToolError(sdk, error, label);
    }
  }

  #session(sdk: McpSdk): Promise<Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#closed = false;
    this.#connecting ??= this.#connect(sdk).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connect(sdk: McpSdk): Promise<Client> {
    const { address, onToolsChanged } = this.#options;
    const client = new sdk.Client({ name: 'keel', version: '1' }, { capabilities: {} });
    client.setNotificationHandler(sdk.ToolListChangedNotificationSchema, () => {
      onToolsChanged?.();
      return Promise.resolve();
    });
    const transport =
      address.kind === 'stdio'
        ? new sdk.StdioClientTransport({
            command: address.command,
            args: [...address.args],
            ...(address.env ? { env: { ...address.env } } : {}),
            ...(address.cwd ? { cwd: address.cwd } : {}),
          })
        : new sdk.StreamableHTTPClientTransport(address.url, {
            requestInit: { headers: { ...address.headers } },
          });
    client.onclose = () => {
      // The transport dropped (or was closed): the next use opens a new session.
      if (this.#client === client) this.#client = undefined;
    };
    try {
      await client.connect(transport, {
        timeout: timerDelay(this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
      });
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.close().catch(() => undefined);
      throw new Error('Not connected');
    }
    this.#client = client;
    return client;
  }
}
