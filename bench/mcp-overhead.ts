// Keel's overhead per MCP tool call over the SDK's own `client.callTool`, against the same
// kind of stdio server (bench/mcp-server-process.ts), in interleaved blocks so machine noise
// cancels: the tool executor, the pin check's `tools/list` before each call (the default), and
// without it (`verifyBeforeCall: false`, relying on list_changed notifications). Also runnable
// alone: `node dist/bench/mcp-overhead.js`.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { openStore, type Store } from '../src/index.js';
import { connectMcp, type McpToolSet } from '../src/exports/mcp.js';
import { executeTool, type Tool } from '../src/tools/index.js';
import { benchScript } from './child-processes.js';
import { runAlone } from './run-alone.js';
import { BENCH_CALL } from './tool-policies.js';
import { median, round } from './stats.js';

export interface McpOverheadResult {
  readonly calls: number;
  /** The SDK's `callTool` on its own, per call (median over blocks), ms. */
  readonly rawMs: number;
  /** Per-call overhead over the raw call, ms (median over blocks). */
  readonly overheadMs: { readonly verified: number; readonly unverified: number };
}

const server = () => ({ command: process.execPath, args: [benchScript('mcp-server-process.js')] });
const { input, context, hooks, signal } = BENCH_CALL;

async function rawBlock(client: Client, calls: number): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < calls; index++) {
    await client.callTool({ name: 'lookup', arguments: input });
  }
  return (performance.now() - started) / calls;
}

async function keelBlock(tool: Tool, calls: number): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < calls; index++) {
    const outcome = await executeTool({ tool, input, context, signal, hooks });
    if (!outcome.ok) throw new Error(`bench MCP tool failed: ${outcome.failure.message}`);
  }
  return (performance.now() - started) / calls;
}

export async function measureMcpOverhead({
  blocks = 10,
  callsPerBlock = 200,
}: { blocks?: number; callsPerBlock?: number } = {}): Promise<McpOverheadResult> {
  const store: Store = await openStore('sqlite::memory:');
  const client = new Client({ name: 'bench', version: '1' });
  const sets: McpToolSet[] = [];
  try {
    await client.connect(new StdioClientTransport(server()));
    const connect = async (verifyBeforeCall: boolean) => {
      const set = await connectMcp({
        server: server(),
        name: 'bench',
        effects: { lookup: 'read' },
        store,
        mode: 'development',
        verifyBeforeCall,
        recheckMs: 0,
      });
      sets.push(set);
      return set.tools[0] as Tool;
    };
    const verified = await connect(true);
    const unverified = await connect(false);
    await rawBlock(client, callsPerBlock);
    await keelBlock(verified, callsPerBlock);
    await keelBlock(unverified, callsPerBlock);
    const raw: number[] = [];
    const overVerified: number[] = [];
    const overUnverified: number[] = [];
    for (let block = 0; block < blocks; block++) {
      const baseline = await rawBlock(client, callsPerBlock);
      raw.push(baseline);
      overVerified.push((await keelBlock(verified, callsPerBlock)) - baseline);
      overUnverified.push((await keelBlock(unverified, callsPerBlock)) - baseline);
    }
    return {
      calls: blocks * callsPerBlock,
      rawMs: round(median(raw), 3),
      overheadMs: {
        verified: round(median(overVerified), 3),
        unverified: round(median(overUnverified), 3),
      },
    };
  } finally {
    await Promise.all(sets.map((set) => set.close()));
    await client.close();
    await store.close();
  }
}

export function renderMcpOverhead(result: McpOverheadResult): string {
  return [
    `MCP tool call overhead over the SDK's callTool (stdio server, ${result.calls} calls per configuration, raw call ${result.rawMs} ms)`,
    `  executor + pin check (tools/list) before each call:  ${result.overheadMs.verified} ms`,
    `  executor, pin checks on list_changed only:           ${result.overheadMs.unverified} ms`,
  ].join('\n');
}

await runAlone(import.meta.url, () => measureMcpOverhead(), renderMcpOverhead);
