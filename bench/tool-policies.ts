// Policy overhead per successful tool call: `executeTool` (breaker view, bulkhead, timeout,
// retry loop, cache bypass, audit entry) against calling the tool's `run` directly, in
// interleaved blocks so machine noise cancels. Also runnable alone:
// `node dist/bench/tool-policies.js`.
import { z } from 'zod';
import { defineTool, openStore } from '../src/index.js';
import {
  createToolPolicies,
  executeTool,
  type ExecuteToolOptions,
  type ToolPolicies,
} from '../src/tools/index.js';
import { runAlone } from './run-alone.js';
import { median, round } from './stats.js';

export interface ToolPolicyResult {
  readonly calls: number;
  /** Median over blocks of the bare call, per call. */
  readonly bareUs: number;
  /** Per-call overhead over the bare call, median over blocks, by configuration. */
  readonly overheadUs: {
    /** Timeout, bulkhead and retry loop only (no store). */
    readonly inProcess: number;
    /** As a run executes: plus the shared breaker (SQLite store) and the audit entry. */
    readonly withStore: number;
  };
  readonly targetUs: number;
  readonly within: boolean;
}

const TARGET_US = 50;

const lookup = defineTool({
  name: 'lookup',
  description: 'Look up an item',
  input: z.object({ id: z.string() }),
  effect: 'read',
  run: ({ id }) => Promise.resolve({ id, stock: 7 }),
});

/** One call's input, context, journal hooks (no-ops) and signal, as the benches pass them. */
export const BENCH_CALL: {
  readonly input: { readonly id: string };
  readonly context: ExecuteToolOptions['context'];
  readonly hooks: ExecuteToolOptions['hooks'];
  readonly signal: AbortSignal;
} = {
  input: { id: 'item-1' },
  context: { idempotencyKey: 'run:0:0', runId: 'run', callId: 'call_0_0' },
  hooks: {
    beforeAttempt: () => Promise.resolve(),
    afterFailedAttempt: () => Promise.resolve(),
  },
  signal: new AbortController().signal,
};
const { input, context, hooks, signal } = BENCH_CALL;

async function bareBlock(calls: number): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < calls; index++) {
    await lookup.run(input, { ...context, attempt: 1, signal, markPartial: () => undefined });
  }
  return (performance.now() - started) / calls;
}

async function keelBlock(calls: number, policies: ToolPolicies): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < calls; index++) {
    const outcome = await executeTool({
      tool: lookup,
      input,
      context,
      signal,
      hooks,
      policies,
      audit: { step: 0, decision: { allowedBy: 'agent_tool_scope' }, deferred: true },
    });
    if (!outcome.ok) throw new Error(`bench tool failed: ${outcome.failure.message}`);
  }
  return (performance.now() - started) / calls;
}

export async function measureToolPolicies({
  blocks = 30,
  callsPerBlock = 2_000,
}: { blocks?: number; callsPerBlock?: number } = {}): Promise<ToolPolicyResult> {
  const store = await openStore('sqlite::memory:');
  try {
    const inProcess = createToolPolicies();
    const withStore = createToolPolicies({ store });
    // Warm up every path (JIT, statement cache, the breaker's first read).
    await bareBlock(callsPerBlock);
    await keelBlock(callsPerBlock, inProcess);
    await keelBlock(callsPerBlock, withStore);
    const bare: number[] = [];
    const overheadInProcess: number[] = [];
    const overheadWithStore: number[] = [];
    for (let block = 0; block < blocks; block++) {
      const baseline = await bareBlock(callsPerBlock);
      bare.push(baseline);
      overheadInProcess.push((await keelBlock(callsPerBlock, inProcess)) - baseline);
      overheadWithStore.push((await keelBlock(callsPerBlock, withStore)) - baseline);
    }
    const us = (ms: number) => round(ms * 1000, 2);
    const withStoreUs = us(median(overheadWithStore));
    return {
      calls: blocks * callsPerBlock,
      bareUs: us(median(bare)),
      overheadUs: { inProcess: us(median(overheadInProcess)), withStore: withStoreUs },
      targetUs: TARGET_US,
      within: withStoreUs <= TARGET_US,
    };
  } finally {
    await store.close();
  }
}

export function renderToolPolicies(result: ToolPolicyResult): string {
  return [
    `Tool policy overhead per successful call (${result.calls} calls per configuration, interleaved with bare calls at ${result.bareUs} µs each)`,
    `  timeout + bulkhead + retry loop:                   ${result.overheadUs.inProcess} µs`,
    `  as a run executes (+ shared breaker, audit entry):  ${result.overheadUs.withStore} µs   target <= ${result.targetUs} µs   ${result.within ? 'ok' : 'OVER'}`,
  ].join('\n');
}

await runAlone(import.meta.url, () => measureToolPolicies(), renderToolPolicies);
