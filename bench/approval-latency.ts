import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineTool,
  openStore,
  simulator,
  type Store,
} from '../src/index.js';
import { createApprovals, type Approvals } from '../src/exports/approval.js';
import { round, summarize, type Timing } from './stats.js';

/**
 * Approval → resumed run: a gated call parks its run (`waiting`, no lease); the clock starts
 * when an approver's decision is submitted and stops when the approved tool starts executing
 * on the worker (and when the run has finished). The baseline is the decision's own round trip
 * (authenticate, check, commit), measured in the same loop.
 *
 * SQLite: the decision is made in the worker's process, which wakes its worker directly.
 * PostgreSQL: the decision is made over a separate connection pool, as another process would;
 * the worker hears of it through LISTEN/NOTIFY. Workers poll only once a second, so a figure
 * far below that shows the wake-up path, not the poll.
 */
export interface ApprovalLatencyResult {
  readonly store: string;
  readonly runs: number;
  /** The decision call alone: the baseline. */
  readonly decide: Timing;
  /** Decision submitted → the approved tool starts on the worker. */
  readonly toToolStart: Timing;
  /** Decision submitted → the run has finished (its final model turn included). */
  readonly toRunFinished: Timing;
}

export interface ApprovalLatencyReport {
  readonly sqlite: ApprovalLatencyResult;
  readonly postgres: ApprovalLatencyResult | null;
  readonly targets: { readonly sqliteMs: number; readonly postgresMs: number };
}

export const APPROVAL_LATENCY_TARGETS = { sqliteMs: 50, postgresMs: 100 } as const;

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function measureApprovalLatency({
  directory,
  runs = 40,
  warmupRuns = 5,
}: {
  directory: string;
  runs?: number;
  warmupRuns?: number;
}): Promise<ApprovalLatencyReport> {
  const sqlite = await measureOn({
    label: 'SQLite file (synchronous=FULL), decision in the worker process',
    open: async () => {
      const store = await openStore(`sqlite:${join(directory, 'approvals.db')}`);
      return { store, decider: undefined, close: () => store.close() };
    },
    runs,
    warmupRuns,
  });
  let postgres: ApprovalLatencyResult | null = null;
  const schema = `keel_bench_${randomBytes(5).toString('hex')}`;
  let reachable = true;
  try {
    const probe = await openStore(POSTGRES_URL, { postgresSchema: schema });
    await probe.close();
  } catch {
    reachable = false;
  }
  if (reachable) {
    postgres = await measureOn({
      label: 'PostgreSQL, decision over another connection pool (LISTEN/NOTIFY wake-up)',
      open: async () => {
        const store = await openStore(POSTGRES_URL, { postgresSchema: schema });
        const deciderStore = await openStore(POSTGRES_URL, { postgresSchema: schema });
        return {
          store,
          decider: deciderStore,
          async close() {
            await deciderStore.close();
            await store.close();
            const pg = await import('pg');
            const client = new pg.default.Client({ connectionString: POSTGRES_URL });
            await client.connect();
            await client.query(`drop schema if exists ${schema} cascade`);
            await client.end();
          },
        };
      },
      runs,
      warmupRuns,
    });
  }
  return { sqlite, postgres, targets: APPROVAL_LATENCY_TARGETS };
}

async function measureOn({
  label,
  open,
  runs,
  warmupRuns,
}: {
  label: string;
  open: () => Promise<{ store: Store; decider: Store | undefined; close(): Promise<void> }>;
  runs: number;
  warmupRuns: number;
}): Promise<ApprovalLatencyResult> {
  const opened = await open();
  const { store, decider } = opened;
  const toolStarted = new Map<string, () => void>();
  const runFinished = new Map<string, () => void>();
  const tool = defineTool({
    name: 'wire_funds',
    description: 'Move money',
    input: z.object({ amountCents: z.number().int() }),
    effect: 'irreversible',
    run(input) {
      return Promise.resolve({ moved: input.amountCents });
    },
  });
  const agent = defineAgent({
    name: 'treasurer',
    instructions: 'Move the money.',
    model: simulator({
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'wire_funds', args: { amountCents: 100 } }] }
          : { text: 'moved' },
    }),
    tools: [tool],
    gates: {},
  });
  const runtime = createRuntime({
    store,
    agents: [agent],
    onEvent(runId, event) {
      if (event.type === 'tool_started') toolStarted.get(runId)?.();
      if (event.type === 'run_finished') runFinished.get(runId)?.();
    },
  });
  const approvals: Approvals = decider ? createApprovals({ store: decider }) : runtime.approvals;
  const { token } = await approvals.addApprover({ name: 'bench', groups: ['approvers'] });
  const worker = runtime.startWorker({ pollMs: 1_000 });
  const decide: number[] = [];
  const toTool: number[] = [];
  const toEnd: number[] = [];
  try {
    for (let index = 0; index < warmupRuns + runs; index++) {
      const record = await runtime.submit('treasurer', 'Wire 100');
      let approval = undefined;
      while (!approval) {
        const run = await store.getRun(record.id);
        if (run?.status === 'waiting')
          [approval] = await store.approvals.list({ runId: record.id, states: ['pending'] });
        if (!approval) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const started = new Promise<number>((resolve) =>
        toolStarted.set(record.id, () => {
          resolve(performance.now());
        }),
      );
      const finished = new Promise<number>((resolve) =>
        runFinished.set(record.id, () => {
          resolve(performance.now());
        }),
      );
      const decidedAt = performance.now();
      await approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
      });
      const returnedAt = performance.now();
      const [toolAt, endAt] = await Promise.all([started, finished]);
      toolStarted.delete(record.id);
      runFinished.delete(record.id);
      if (index < warmupRuns) continue;
      decide.push(returnedAt - decidedAt);
      toTool.push(toolAt - decidedAt);
      toEnd.push(endAt - decidedAt);
    }
  } finally {
    await worker.stop({ abortInFlight: true });
    await runtime.close();
    await opened.close();
  }
  return {
    store: label,
    runs,
    decide: summarize(decide),
    toToolStart: summarize(toTool),
    toRunFinished: summarize(toEnd),
  };
}

/** The figures as table lines, in the style of the main table. */
export function renderApprovalLatency(report: ApprovalLatencyReport): string {
  const lines = [
    'Approval -> resumed run (decision submitted -> approved tool starts on a worker)',
  ];
  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  const rows: [ApprovalLatencyResult | null, number][] = [
    [report.sqlite, report.targets.sqliteMs],
    [report.postgres, report.targets.postgresMs],
  ];
  for (const [result, target] of rows) {
    if (!result) {
      lines.push('  PostgreSQL: not reachable, skipped');
      continue;
    }
    const within = result.toToolStart.medianMs <= target;
    lines.push(
      `  ${result.store}, n=${String(result.runs)}`,
      `    to tool start, median / p90      ${ms(result.toToolStart.medianMs)} / ${ms(result.toToolStart.p90Ms)}   target <= ${String(target)} ms   ${within ? 'ok' : 'OVER'}`,
      `    to run finished, median / p90    ${ms(result.toRunFinished.medianMs)} / ${ms(result.toRunFinished.p90Ms)}`,
      `    baseline: the decision call alone ${ms(result.decide.medianMs)} / ${ms(result.decide.p90Ms)}  (resume adds ${ms(round(result.toToolStart.medianMs - result.decide.medianMs, 2))})`,
    );
  }
  return lines.join('\n');
}
