// Production run latency with a shadow on, next to the same runs with it off, in one process
// on one SQLite file: blocks alternate off/on so machine noise falls on both. With the shadow on,
// every finished run is sampled (share 1) and its shadow run executes on this process's worker
// at the same time as the next production runs. Also checks that the production journals
// (event types and tool results) and outputs are the same on and off, and that the shadow runs
// executed no side effect.
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { z } from 'zod';
import { createRuntime, defineAgent, defineTool, openStore, simulator } from '../src/index.js';
import type { Agent, SimulatorScript } from '../src/index.js';
import { shadowReport } from '../src/exports/eval.js';
import { round } from './stats.js';

export interface ShadowOverheadResult {
  readonly runsPerSide: number;
  readonly offP50Ms: number;
  readonly onP50Ms: number;
  readonly offP95Ms: number;
  readonly onP95Ms: number;
  /** Median of on − off, in ms per production run. */
  readonly deltaP50Ms: number;
  /** Production journals (event types, tool results) and outputs equal with the shadow on and off. */
  readonly sameJournals: boolean;
  readonly shadowRuns: number;
  readonly executedSideEffects: number;
}

const SCRIPT: SimulatorScript = [
  { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1' } }] },
  { toolCalls: [{ name: 'update_ticket', args: { ticketId: 'T-1', note: 'refund' } }] },
  { text: 'Refunded.' },
];

function desk(executions: { count: number }, version: string, script: SimulatorScript): Agent {
  const run = () => {
    executions.count += 1;
    return Promise.resolve({ ok: true });
  };
  return defineAgent({
    name: 'desk',
    version,
    model: simulator({ script }),
    instructions: 'You handle refunds.',
    tools: [
      defineTool({
        name: 'lookup_order',
        description: 'Look an order up',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        run,
      }),
      defineTool({
        name: 'update_ticket',
        description: 'Update a ticket',
        input: z.object({ ticketId: z.string(), note: z.string() }),
        effect: 'write',
        run,
      }),
    ],
  });
}

const percentile = (values: readonly number[], quantile: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)] ?? 0;
};

export async function measureShadowOverhead({
  directory,
  blocks = 10,
  runsPerBlock = 20,
}: {
  readonly directory: string;
  readonly blocks?: number;
  readonly runsPerBlock?: number;
}): Promise<ShadowOverheadResult> {
  const store = await openStore(`sqlite:${join(directory, 'shadow.db')}`);
  const production = { count: 0 };
  const candidateExecutions = { count: 0 };
  const candidate = desk(candidateExecutions, 'candidate', [
    { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1' } }] },
    { toolCalls: [{ name: 'update_ticket', args: { ticketId: 'T-1', note: 'refund + 10%' } }] },
    { text: 'Refunded with a credit.' },
  ]);
  const runtime = createRuntime({
    store,
    agents: [desk(production, 'production', SCRIPT)],
    candidates: [candidate],
  });
  const worker = runtime.startWorker({ pollMs: 5 });
  const off: number[] = [];
  const on: number[] = [];
  const journals = { off: new Set<string>(), on: new Set<string>() };
  const journalOf = async (runId: string): Promise<string> =>
    JSON.stringify(
      (await store.readEvents(runId)).map(({ event }) =>
        event.type === 'tool_finished'
          ? [event.type, event.content]
          : event.type === 'run_finished'
            ? [event.type, event.status, event.output]
            : [event.type],
      ),
    );
  try {
    for (let warm = 0; warm < 10; warm++) await runtime.run('desk', 'Refund ORD-1');
    for (let block = 0; block < blocks * 2; block++) {
      const shadowOn = block % 2 === 1;
      const shadow = shadowOn
        ? await runtime.shadows.start({ agent: 'desk', candidate, share: 1, maxConcurrent: 4 })
        : undefined;
      for (let index = 0; index < runsPerBlock; index++) {
        const started = performance.now();
        const result = await runtime.run('desk', 'Refund ORD-1');
        (shadowOn ? on : off).push(performance.now() - started);
        if (index === 0) (shadowOn ? journals.on : journals.off).add(await journalOf(result.id));
      }
      if (shadow) await runtime.shadows.stop(shadow.id);
    }
    // Let the last shadow runs finish before reading the report.
    for (let tries = 0; tries < 1_000; tries++) {
      const pending = await store.listRuns({ shadows: 'only', statuses: ['queued', 'running'] });
      if (pending.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const report = await shadowReport(store);
    const deltas = on.map((value, index) => value - (off[index] ?? value));
    return {
      runsPerSide: on.length,
      offP50Ms: round(percentile(off, 0.5), 3),
      onP50Ms: round(percentile(on, 0.5), 3),
      offP95Ms: round(percentile(off, 0.95), 3),
      onP95Ms: round(percentile(on, 0.95), 3),
      deltaP50Ms: round(percentile(deltas, 0.5), 3),
      sameJournals:
        journals.on.size === 1 &&
        journals.off.size === 1 &&
        [...journals.on][0] === [...journals.off][0],
      shadowRuns: report.pairs.length,
      executedSideEffects: report.executedSideEffects + candidateExecutions.count,
    };
  } finally {
    await worker.stop();
    await runtime.close();
    await store.close();
  }
}

export function renderShadowOverhead(result: ShadowOverheadResult): string {
  return [
    `production run with a shadow on (share 1, its runs on the same worker), ${result.runsPerSide} runs each: p50 ${result.onP50Ms} ms (off ${result.offP50Ms} ms), p95 ${result.onP95Ms} ms (off ${result.offP95Ms} ms); median delta ${result.deltaP50Ms} ms`,
    `  production journals and outputs the same on and off: ${result.sameJournals ? 'yes' : 'NO'}; ${result.shadowRuns} shadow runs, ${result.executedSideEffects} side effects executed`,
  ].join('\n');
}
