// Production run latency with a shadow on, next to the same runs with it off, in one process
// on one SQLite file: blocks alternate off/on so machine noise falls on both. Production runs go
// back to back (no idle time: the worst case for a shadow). With the shadow on, every finished
// run is sampled (share 1) and its shadow run is for this process's worker in the recommended
// setup: a default worker (`shadows: 'also'`) claims shadow runs only after production runs and
// not while production runs execute here, and queues pairs and runs candidates' model calls only
// once the process has been quiet for 50 ms. What that costs is measured too: how long the shadow
// runs took to finish once production stopped. Also checks that the production journals (event
// types and tool results) and outputs are the same on and off, and that the shadow runs executed
// no side effect.
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
  readonly offP99Ms: number;
  readonly onP99Ms: number;
  /** p50 on − p50 off, in ms per production run. */
  readonly deltaP50Ms: number;
  /** p99 on − p99 off. */
  readonly deltaP99Ms: number;
  /** From the last production run's end to the last shadow run's end (the shadow waits its turn). */
  readonly drainMs: number;
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
        ? await runtime.shadows.start({
            agent: 'desk',
            candidate,
            share: 1,
            maxConcurrent: blocks * runsPerBlock,
          })
        : undefined;
      const sampled: string[] = [];
      for (let index = 0; index < runsPerBlock; index++) {
        const started = performance.now();
        const result = await runtime.run('desk', 'Refund ORD-1');
        (shadowOn ? on : off).push(performance.now() - started);
        if (shadowOn) sampled.push(result.id);
        if (index === 0) (shadowOn ? journals.on : journals.off).add(await journalOf(result.id));
      }
      if (!shadow) continue;
      // The block's pairs are queued once the process is quiet; then the shadow stops, so the
      // next off block is not sampled (its queued shadow runs still run, when there is time).
      for (let tries = 0; tries < 2_000; tries++) {
        const paired = new Set((await store.shadows.pairs(shadow.id)).map((pair) => pair.runId));
        if (sampled.every((id) => paired.has(id))) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await runtime.shadows.stop(shadow.id);
    }
    const loadEnded = performance.now();
    for (let tries = 0; tries < 6_000; tries++) {
      const pending = await store.listRuns({ shadows: 'only', statuses: ['queued', 'running'] });
      if (pending.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const drainMs = performance.now() - loadEnded;
    const report = await shadowReport(store);
    return {
      runsPerSide: on.length,
      offP50Ms: round(percentile(off, 0.5), 3),
      onP50Ms: round(percentile(on, 0.5), 3),
      offP99Ms: round(percentile(off, 0.99), 3),
      onP99Ms: round(percentile(on, 0.99), 3),
      deltaP50Ms: round(percentile(on, 0.5) - percentile(off, 0.5), 3),
      deltaP99Ms: round(percentile(on, 0.99) - percentile(off, 0.99), 3),
      drainMs: round(drainMs, 1),
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
    `production runs back to back with a shadow on (share 1, candidates on the same worker, deferred to quiet time), ${result.runsPerSide} runs each: p50 ${result.onP50Ms} ms (off ${result.offP50Ms} ms, delta ${result.deltaP50Ms} ms), p99 ${result.onP99Ms} ms (off ${result.offP99Ms} ms, delta ${result.deltaP99Ms} ms)`,
    `  production journals and outputs the same on and off: ${result.sameJournals ? 'yes' : 'NO'}; ${result.shadowRuns} shadow runs, finished ${result.drainMs} ms after the production load ended; ${result.executedSideEffects} side effects executed`,
  ].join('\n');
}
