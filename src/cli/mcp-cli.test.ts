import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { createApprovals } from '../approval/index.js';
import { createRuntime } from '../engine/index.js';
import { ORDERS_SERVER, callsLog, stdioOrders } from '../mcp/__tests__/orders-fixture.js';
import {
  connectMcp,
  fingerprintOf,
  inspectMcpServer,
  type McpToolDefinition,
} from '../mcp/index.js';
import { simulator } from '../model/index.js';
import type { Alert } from '../observe/index.js';
import { serveAgentsOverHttp } from '../server/index.js';
import { openStore, type Store } from '../store/index.js';
import { ROOT, runKeel } from './__tests__/keel-process.js';

/*
 * `keel mcp ...` as real processes against a real MCP server (the order desk of the MCP tests,
 * over stdio) and a SQLite file shared with this process; `keel mcp serve` answering a real MCP
 * client.
 */

const SPEC = `stdio:${process.execPath} ${ORDERS_SERVER}`;
const directory = mkdtempSync(join(tmpdir(), 'keel-mcp-cli-'));
let stores = 0;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** A fresh store file, an approver on it, and the token. */
async function storeWithApprover(): Promise<{ url: string; token: string }> {
  const url = `sqlite:${join(directory, `keel-${++stores}.db`)}`;
  const store = await openStore(url);
  try {
    const { token } = await createApprovals({ store }).addApprover({
      name: 'ana',
      groups: ['ops'],
    });
    return { url, token };
  } finally {
    await store.close();
  }
}

async function withStore<T>(url: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(url);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function json(result: { code: number | null; stdout: string; stderr: string }): unknown {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(result.stdout);
}

interface ToolRow {
  name: string;
  effect: string;
  trust: string;
  fingerprint: string;
  pinned: boolean;
}

describe('keel mcp', () => {
  it('lists tools with effect, trust, fingerprint and pin; pins them; round-trips a lock file', async () => {
    const { url, token } = await storeWithApprover();
    const before = json(await runKeel(url, ['mcp', 'tools', SPEC, '--json'])) as ToolRow[];
    expect(
      before.map(({ name, effect, trust, pinned }) => ({ name, effect, trust, pinned })),
    ).toEqual(
      ['lookup_order', 'send_reply', 'cancel_order', 'slow_lookup', 'fail_rpc', 'crash'].map(
        (name) => ({ name, effect: 'irreversible', trust: 'untrusted', pinned: false }),
      ),
    );
    expect(before.every((row) => /^[0-9a-f]{32}$/.test(row.fingerprint))).toBe(true);

    const pinned = json(
      await runKeel(url, ['mcp', 'pin', SPEC, 'lookup_order', 'send_reply', '--json'], token),
    );
    expect(pinned).toEqual({
      server: `stdio:${process.execPath} ${ORDERS_SERVER}`,
      pinned: ['lookup_order', 'send_reply'],
      by: 'ana',
      changed: [],
    });
    const after = json(await runKeel(url, ['mcp', 'tools', SPEC, '--json'])) as ToolRow[];
    expect(after.filter((row) => row.pinned).map((row) => row.name)).toEqual([
      'lookup_order',
      'send_reply',
    ]);

    const lockFile = join(directory, 'keel.mcp.lock');
    json(await runKeel(url, ['mcp', 'export', '--out', lockFile, '--json']));
    const target = await storeWithApprover();
    const imported = json(
      await runKeel(target.url, ['mcp', 'import', lockFile, '--json'], target.token),
    );
    expect(imported).toEqual({
      pinned: [`${SPEC}/lookup_order`, `${SPEC}/send_reply`],
      unchanged: 0,
    });
    const pins = await withStore(target.url, (store) => store.mcpPins.list());
    expect(pins.map((record) => [record.tool, record.pinned?.fingerprint])).toEqual(
      after.filter((row) => row.pinned).map((row) => [row.name, row.fingerprint]),
    );
    expect(readFileSync(lockFile, 'utf8')).toContain('"lockfileVersion": 1');
  });

  it('approves a changed definition, after which the running process offers the tool again', async () => {
    const { url, token } = await storeWithApprover();
    const store = await openStore(url);
    cleanups.push(() => store.close());
    // The pin a person approved earlier said something else.
    const { tools } = await inspectMcpServer({ server: stdioOrders(), name: 'orders', store });
    const live = tools.find((tool) => tool.serverTool === 'lookup_order')
      ?.definition as McpToolDefinition;
    const earlier = { ...live, description: 'Find an order.' };
    await store.mcpPins.pin({
      server: 'orders',
      tool: 'lookup_order',
      fingerprint: fingerprintOf(earlier),
      definition: earlier,
      by: 'bo',
      at: 1,
    });
    const alerts: Alert[] = [];
    const set = await connectMcp({
      server: stdioOrders(),
      name: 'orders',
      include: ['lookup_order'],
      effects: { lookup_order: 'read' },
      store,
      mode: 'production',
      recheckMs: 0,
      alerts: { onAlert: (alert) => alerts.push(alert) },
    });
    cleanups.push(() => set.close());
    expect(set.status().map(({ state, offered }) => ({ state, offered }))).toEqual([
      { state: 'changed', offered: false },
    ]);
    expect(alerts.map((alert) => alert.kind)).toEqual(['mcp_tool_withheld']);

    const diff = json(await runKeel(url, ['mcp', 'diff', '--json'])) as {
      changes: { server: string; tool: string; state: string; changes: string[] }[];
    };
    expect(
      diff.changes.map(({ server, tool, state, changes }) => ({ server, tool, state, changes })),
    ).toEqual([
      { server: 'orders', tool: 'lookup_order', state: 'changed', changes: ['description'] },
    ]);
    const approved = json(
      await runKeel(url, ['mcp', 'approve', 'orders', 'lookup_order', '--json'], token),
    );
    expect(approved).toEqual({
      approved: [
        { server: 'orders', tool: 'lookup_order', fingerprint: fingerprintOf(live), by: 'ana' },
      ],
    });

    await set.refresh();
    expect(set.status().map(({ state, offered }) => ({ state, offered }))).toEqual([
      { state: 'pinned', offered: true },
    ]);
  });

  it.each([
    {
      what: 'a server spec that is neither stdio: nor a URL',
      args: ['mcp', 'tools', 'node server.mjs'],
    },
    { what: 'an approval without a token', args: ['mcp', 'approve', 'orders'] },
    { what: '--header without a value', args: ['mcp', 'tools', SPEC, '--header', 'Authorization'] },
  ])('refuses $what with one line and exit 2', async ({ args }) => {
    const { url } = await storeWithApprover();
    const result = await runKeel(url, args);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^keel: [^\n]+\n$/);
  });
});

describe('MCP tools from an agents module', () => {
  it("runs an agent whose tools come from mcpTools, pinned in the CLI's store, and exits", async () => {
    const config = join(directory, 'desk.mts');
    const calls = callsLog();
    cleanups.push(() => {
      calls.cleanup();
    });
    writeFileSync(
      config,
      `import { defineAgent, simulator } from ${JSON.stringify(join(ROOT, 'src/index.js'))};
import { mcpTools } from ${JSON.stringify(join(ROOT, 'src/exports/mcp.js'))};
const tools = await mcpTools({
  server: {
    command: process.execPath,
    args: [${JSON.stringify(ORDERS_SERVER)}],
    env: { ORDERS_CALLS_FILE: ${JSON.stringify(calls.file)} },
  },
  name: 'orders',
  include: ['lookup_order', 'send_reply'],
  effects: { lookup_order: 'read', send_reply: 'write' },
  mode: 'development',
});
export const agents = [
  defineAgent({
    name: 'desk',
    model: simulator({
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1001' } }] }
          : step === 1
            ? { toolCalls: [{ name: 'send_reply', args: { to: 'ana@example.com', text: 'Shipped.' } }] }
            : { text: 'Replied.' },
    }),
    instructions: 'Answer order questions.',
    tools,
    gates: {},
    // The address comes from the server's (untrusted) answer: recorded, not held for a human.
    untrusted: { monitor: 'flag' },
  }),
];
`,
    );
    const { url } = await storeWithApprover();
    const run = json(
      await runKeel(url, [
        '--agents',
        config,
        'run',
        'desk',
        '--task',
        'Where is ORD-1001?',
        '--json',
      ]),
    ) as { status: string; output: string };
    expect({ status: run.status, output: run.output }).toEqual({
      status: 'succeeded',
      output: 'Replied.',
    });
    const pins = await withStore(url, (store) => store.mcpPins.list({ server: 'orders' }));
    expect(pins.map((record) => [record.tool, record.pinned?.by])).toEqual([
      ['lookup_order', 'development (automatic)'],
      ['send_reply', 'development (automatic)'],
    ]);
    expect(calls.calls().map((call) => call.name)).toEqual(['lookup_order', 'send_reply']);
  });
});

describe('keel mcp serve', () => {
  it('answers a real MCP client over stdio: one tool per agent, each call a durable run', async () => {
    const config = join(directory, 'agents.ts');
    writeFileSync(
      config,
      `import { defineAgent, simulator } from ${JSON.stringify(join(ROOT, 'src/index.js'))};
export const agents = [
  defineAgent({
    name: 'echoer',
    description: 'Echoes the task.',
    model: simulator({ script: ({ task }) => ({ text: 'echoed: ' + task }) }),
    instructions: 'Echo the task.',
  }),
];
`,
    );
    const { url } = await storeWithApprover();
    const client = new Client({ name: 'test-client', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [
          '--import',
          'tsx',
          join(ROOT, 'src/cli/main.ts'),
          '--agents',
          config,
          'mcp',
          'serve',
        ],
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', KEEL_STORE: url, NO_COLOR: '1' },
      }),
    );
    cleanups.push(() => client.close());

    const { tools } = await client.listTools();
    expect(
      tools.map(({ name, inputSchema }) => ({ name, required: inputSchema.required })),
    ).toEqual([{ name: 'echoer', required: ['task'] }]);
    const meta = { 'keel/idempotencyKey': 'ticket-42' };
    const first = await client.callTool({
      name: 'echoer',
      arguments: { task: 'hello' },
      _meta: meta,
    });
    const again = await client.callTool({
      name: 'echoer',
      arguments: { task: 'hello' },
      _meta: meta,
    });
    expect(first.structuredContent).toEqual({
      runId: expect.stringMatching(/^run_mcp_/) as unknown,
      status: 'succeeded',
      output: 'echoed: hello',
      reason: 'the agent gave its final answer',
    });
    // The same key is the same run, answered from the store.
    expect(again.structuredContent).toEqual(first.structuredContent);
    const runs = await withStore(url, (store) => store.listRuns());
    expect(runs.map((run) => ({ agent: run.agent, status: run.status }))).toEqual([
      { agent: 'echoer', status: 'succeeded' },
    ]);
  });

  it('exits 0 when the stdio client ends the session by closing stdin', async () => {
    const { url } = await storeWithApprover();
    // runKeel gives the process no stdin: it reads end-of-file at once, as after a client hangs up.
    const result = await runKeel(url, ['mcp', 'serve']);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('answers every call a client sent before it closed stdin, then exits 0', async () => {
    const config = join(directory, 'slow-agents.ts');
    writeFileSync(
      config,
      `import { defineAgent, simulator } from ${JSON.stringify(join(ROOT, 'src/index.js'))};
export const agents = [
  defineAgent({
    name: 'slow',
    model: simulator({ latencyMs: 300, script: ({ task }) => ({ text: 'slowly: ' + task }) }),
    instructions: 'Answer.',
  }),
];
`,
    );
    const { url } = await storeWithApprover();
    // A client that pipes its requests and hangs up: the call is still running when stdin ends.
    const requests = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'pipe', version: '1' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'slow', arguments: { task: 'hi' } },
      },
    ];
    const input = requests.map((request) => JSON.stringify(request)).join('\n') + '\n';
    const result = await runKeel(url, ['--agents', config, 'mcp', 'serve'], undefined, input);
    const answers = result.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { id: number; result?: { structuredContent?: unknown } });
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(answers.find((answer) => answer.id === 2)?.result?.structuredContent).toMatchObject({
      status: 'succeeded',
      output: 'slowly: hi',
    });
    const runs = await withStore(url, (store) => store.listRuns());
    expect(runs.map((run) => run.status)).toEqual(['succeeded']);
  });

  it('serves streamable HTTP behind a bearer token', async () => {
    const store = await openStore('sqlite::memory:');
    cleanups.push(() => store.close());
    const agent = defineAgent({
      name: 'echoer',
      model: simulator({ script: ({ task }) => ({ text: `echoed: ${task}` }) }),
      instructions: 'Echo the task.',
    });
    const runtime = createRuntime({ store, agents: [agent] });
    cleanups.push(() => runtime.close());
    const served = await serveAgentsOverHttp({ runtime, port: 0, token: 'secret' });
    cleanups.push(() => served.close());

    const refused = new Client({ name: 'no-token', version: '1' });
    await expect(
      refused.connect(new StreamableHTTPClientTransport(new URL(served.url))),
    ).rejects.toThrow();

    const client = new Client({ name: 'test-client', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(served.url), {
        requestInit: { headers: { Authorization: 'Bearer secret' } },
      }),
    );
    cleanups.push(() => client.close());
    const result = await client.callTool({ name: 'echoer', arguments: { task: 'over http' } });
    expect(result.structuredContent).toMatchObject({
      status: 'succeeded',
      output: 'echoed: over http',
    });
  });
});
