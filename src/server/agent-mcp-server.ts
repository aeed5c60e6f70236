import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { type Agent } from '../agent/index.js';
import { RUN_STATUSES, describeReason } from '../journal/index.js';
import { KeelError, digest } from '../core/index.js';
import type { RunResult, Runtime } from '../engine/index.js';
import { DEFAULT_MAX_BODY_BYTES, MAX_TASK_CHARS } from './request-limits.js';

/** The `_meta` key an MCP client sets to make a retried call the same run. */
export const MCP_IDEMPOTENCY_KEY = 'keel/idempotencyKey';

/** What `keel mcp serve` exposes: the runtime whose agents become MCP tools, and how each call runs. */
export interface AgentMcpServerOptions {
  readonly runtime: Runtime;
  /** The agents to expose (default: all of the runtime's). */
  readonly agents?: readonly string[] | undefined;
}

/**
 * Keel agents as MCP tools: one tool per agent, taking `{ task }` (at most 100,000 characters;
 * another argument is refused, as `POST /runs` refuses it). Each call is a durable,
 * bounded Keel run in this process (limits, gates and approvals, journal, audit); a call that
 * carries `_meta["keel/idempotencyKey"]` is the same run every time it is sent. A client that
 * cancels its call cancels the run.
 *
 * ```ts
 * const server = await agentMcpServer({ runtime });
 * await server.connect(new StdioServerTransport());
 * ```
 */
export async function agentMcpServer(options: AgentMcpServerOptions): Promise<McpServer> {
  return serverOf(options, new Set());
}

/** The server, with each call under way held in `calls` until it has its result. */
async function serverOf(
  options: AgentMcpServerOptions,
  calls: Set<Promise<unknown>>,
): Promise<McpServer> {
  const agents = exposedAgents(options);
  const { McpServer: Server } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const server = new Server({ name: 'keel', version: '1' }, { capabilities: { tools: {} } });
  for (const agent of agents) {
    server.registerTool(
      agent.name,
      {
        description: `${agent.description || `The Keel agent "${agent.name}".`} Each call is a durable, bounded Keel run.`,
        // As `POST /runs` takes a task: bounded, and no field it would ignore.
        inputSchema: z.strictObject({
          task: z.string().trim().min(1).max(MAX_TASK_CHARS).describe('What the agent should do.'),
        }),
        outputSchema: {
          runId: z.string(),
          status: z.enum(RUN_STATUSES),
          output: z.string().nullable(),
          reason: z.string(),
        },
        annotations: annotationsOf(agent),
      },
      async ({ task }, extra): Promise<CallToolResult> => {
        const key = extra._meta?.[MCP_IDEMPOTENCY_KEY];
        const call = runOnce(options.runtime, agent.name, task, key, extra.signal);
        calls.add(call);
        try {
          return resultOfRun(await call);
        } catch (error) {
          if (extra.signal.aborted) throw error;
          const message = error instanceof Error ? error.message : String(error);
          return { isError: true, content: [{ type: 'text', text: message }] };
        } finally {
          calls.delete(call);
        }
      },
    );
  }
  return server;
}

/**
 * Serve the agents over stdio (this process's stdin and stdout) until the client closes.
 *
 * ```ts
 * await serveAgentsOverStdio({ runtime });
 * ```
 */
export async function serveAgentsOverStdio(
  options: AgentMcpServerOptions,
): Promise<{ readonly closed: Promise<void> }> {
  const calls = new Set<Promise<unknown>>();
  const server = await serverOf(options, calls);
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const transportClosed = new Promise<void>((resolve) => {
    server.server.onclose = () => {
      resolve();
    };
  });
  // The stdio transport does not close when the client ends its input: the session is over
  // then, once every call already sent has its answer written.
  const inputEnded = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  await server.connect(new StdioServerTransport());
  const closed = Promise.race([transportClosed, inputEnded.then(() => answered(calls))]);
  return { closed };
}

/** Settles once no call is under way and the last answer has been handed to the transport. */
async function answered(calls: Set<Promise<unknown>>): Promise<void> {
  while (calls.size > 0) await Promise.allSettled([...calls]);
  await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Serve the agents over streamable HTTP at `/mcp` (stateless: any process behind a load balancer
 * answers any request). With `token`, requests need `Authorization: Bearer <token>`. A body over
 * 128 KiB is answered 413 before it is read, as the HTTP API answers it.
 *
 * ```ts
 * const served = await serveAgentsOverHttp({ runtime, port: 4700 });
 * console.log(served.url); // http://127.0.0.1:4700/mcp
 * ```
 */
export async function serveAgentsOverHttp(
  options: AgentMcpServerOptions & {
    readonly port?: number | undefined;
    readonly host?: string | undefined;
    readonly token?: string | undefined;
  },
): Promise<{ readonly url: string; close(): Promise<void> }> {
  exposedAgents(options);
  const { WebStandardStreamableHTTPServerTransport } =
    await import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js');
  const { port = 4700, host = '127.0.0.1', token } = options;
  const fetch = async (request: Request): Promise<Response> => {
    if (new URL(request.url).pathname !== '/mcp')
      return json(404, 'not found: the endpoint is /mcp');
    if (token !== undefined && request.headers.get('authorization') !== `Bearer ${token}`) {
      return json(401, 'a bearer token is required');
    }
    // No session id generator: stateless, a fresh server and transport per request.
    const transport = new WebStandardStreamableHTTPServerTransport({
      maxRequestBodySize: DEFAULT_MAX_BODY_BYTES,
    });
    const server = await agentMcpServer(options);
    await server.connect(transport);
    return transport.handleRequest(request);
  };
  const { server, address } = await new Promise<{
    server: ReturnType<typeof serve>;
    address: AddressInfo;
  }>((resolve, reject) => {
    const started = serve({ fetch, port, hostname: host }, (info) => {
      resolve({ server: started, address: info });
    });
    started.once('error', reject);
  });
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

function exposedAgents({ runtime, agents }: AgentMcpServerOptions): Agent[] {
  if (agents === undefined) return [...runtime.agents];
  return agents.map((name) => {
    const agent = runtime.agent(name);
    if (!agent) {
      const known = runtime.agents.map((candidate) => candidate.name).join(', ') || 'none';
      throw new KeelError('not_found', `unknown agent "${name}"; known agents: ${known}`);
    }
    return agent;
  });
}

/** An agent's hints for MCP clients, from the effects of its own tools. */
function annotationsOf(agent: Agent): ToolAnnotations {
  const effects = new Set(agent.tools.map((tool) => tool.effect));
  return {
    readOnlyHint: [...effects].every((effect) => effect === 'read'),
    destructiveHint: effects.has('irreversible'),
    idempotentHint: false,
    openWorldHint: effects.has('egress'),
  };
}

/** Run the agent, or, for a key already used, wait for the run that key started. */
async function runOnce(
  runtime: Runtime,
  agent: string,
  task: string,
  key: unknown,
  signal: AbortSignal,
): Promise<RunResult> {
  if (typeof key !== 'string' || key === '') return runtime.run(agent, task, { signal });
  const runId = `run_mcp_${digest(`${agent}:${key}`).slice(0, 24)}`;
  if (await runtime.store.getRun(runId)) return runtime.wait(runId, { signal });
  try {
    return await runtime.run(agent, task, { runId, signal });
  } catch (error) {
    // Sent twice at once: the other call created the run; this one waits for it.
    if (KeelError.isInstance(error) && (await runtime.store.getRun(runId))) {
      return runtime.wait(runId, { signal });
    }
    throw error;
  }
}

function resultOfRun(result: RunResult): CallToolResult {
  const reason = describeReason(result.reason);
  return {
    content: [{ type: 'text', text: result.output ?? reason }],
    structuredContent: { runId: result.id, status: result.status, output: result.output, reason },
    isError: result.status !== 'succeeded',
  };
}

function json(status: number, message: string): Response {
  return new Response(JSON.stringify({ error: message }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
