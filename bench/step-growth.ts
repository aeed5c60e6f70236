// Per-step CPU as a run grows: one simulator agent with one `read` tool and no context
// options, run to a thousand model steps; the process CPU spent between consecutive model
// calls is taken over steps 10-110 and 900-1,000 (see STEP_GROWTH_WINDOW). The long run is
// repeated and the median of each window kept: one garbage collection, compilation or WAL
// checkpoint landing in a window moves a single run's figure.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineTool,
  openStore,
  simulator,
  replayRun,
} from '../src/index.js';
import { runAlone } from './run-alone.js';
import { median, round } from './stats.js';

export interface StepGrowthOptions {
  /** A `sqlite:` store URL. */
  readonly storeUrl: string;
  readonly steps: number;
  /** Steps averaged around each measured step. */
  readonly window: number;
  /** Replay the run and report whether it came out identical. */
  readonly replay: boolean;
  /** Long runs measured; each window's median is kept. */
  readonly runs?: number;
}

export interface StepGrowthResult {
  readonly store: string;
  readonly steps: number;
  /** Mean CPU (user + system) per step around step 10 and around the last step, in ms. */
  readonly cpuPerStepMs: { readonly early: number; readonly late: number };
  readonly runs: number;
  readonly ratio: number;
  readonly replayIdentical: boolean | null;
}

// Warm-up: whole long runs. The compiler keeps reoptimising the step's code for the first few
// thousand steps of a process (deoptimised on new object shapes, then compiled again); after
// 150 steps only, step 10 fell before that churn and step 1,000 in it, and their ratio
// measured the compiler's progress (1.0 once warm, up to 3× before) instead of the step.
const WARMUP_RUNS = 3;
const readInput = z.object({ key: z.string() });

/** Runs one long run and takes its per-step CPU early and late. */
export async function measureStepGrowth({
  storeUrl,
  steps,
  window,
  replay,
  runs = STEP_GROWTH_RUNS,
}: StepGrowthOptions): Promise<StepGrowthResult> {
  // CPU is read only at the edges of the two windows, so reading it costs no step anything.
  const edges = new Set([10, 10 + window, steps - window, steps]);
  const cpuAtStep = new Map<number, number>();
  let measuring = false;
  const model = simulator({
    script: ({ step }) => {
      if (edges.has(step) && measuring) {
        const usage = process.cpuUsage();
        cpuAtStep.set(step, (usage.user + usage.system) / 1000);
      }
      return step < steps
        ? { toolCalls: [{ name: 'read', args: { key: `k-${step}` } }] }
        : { text: 'done' };
    },
  });
  const read = defineTool({
    name: 'read',
    description: 'Read a value by key.',
    input: readInput,
    effect: 'read',
    run: ({ key }) => Promise.resolve({ key, value: `value of ${key}` }),
  });
  const agent = defineAgent({
    name: 'long',
    model,
    instructions: 'Read values until told to stop.',
    tools: [read],
    limits: {
      maxIterations: steps + 10,
      maxTokens: 1e12,
      maxCostUsd: 1e9,
      timeoutMs: 3_600_000,
    },
  });
  const store = await openStore(storeUrl);
  const runtime = createRuntime({ store, agents: [agent] });
  const perStep = (from: number): number =>
    ((cpuAtStep.get(from + window) ?? Number.NaN) - (cpuAtStep.get(from) ?? Number.NaN)) / window;
  const earlies: number[] = [];
  const lates: number[] = [];
  let runId = '';
  try {
    for (let run = 0; run < WARMUP_RUNS; run++) await runtime.run('long', `Warm up (${run + 1}).`);
    for (let run = 0; run < runs; run++) {
      cpuAtStep.clear();
      measuring = true;
      const result = await runtime.run('long', `Read values (${run + 1}).`);
      measuring = false;
      if (result.status !== 'succeeded') throw new Error(`the long run ended ${result.status}`);
      runId = result.id;
      earlies.push(perStep(10));
      lates.push(perStep(steps - window));
    }
  } finally {
    await runtime.close();
  }
  const early = median(earlies);
  const late = median(lates);
  let replayIdentical: boolean | null = null;
  if (replay) {
    const report = await replayRun({ agent, runId, journal: await store.readEvents(runId) });
    replayIdentical = report.identical;
  }
  await store.close();
  return {
    store: storeUrl === 'sqlite::memory:' ? 'sqlite in memory' : 'sqlite file',
    steps,
    cpuPerStepMs: { early: round(early, 3), late: round(late, 3) },
    runs,
    ratio: round(late / early, 2),
    replayIdentical,
  };
}

/** The ratio a long run's late steps may cost over its early ones. */
export const STEP_GROWTH_TARGET = 1.3;

export function renderStepGrowth(results: readonly StepGrowthResult[]): string {
  return [
    `per-step CPU as a run grows (simulator, one read tool, no context options; mean of ${STEP_GROWTH_WINDOW} steps, median of ${results[0]?.runs ?? STEP_GROWTH_RUNS} runs):`,
    ...results.map(
      (result) =>
        `  ${result.store}: steps 10-${10 + STEP_GROWTH_WINDOW} ${result.cpuPerStepMs.early} ms, steps ${result.steps - STEP_GROWTH_WINDOW}-${result.steps} ${result.cpuPerStepMs.late} ms, ratio ${result.ratio} (target <= ${STEP_GROWTH_TARGET}: ${result.ratio <= STEP_GROWTH_TARGET ? 'met' : 'MISSED'}); replay ${result.replayIdentical === null ? 'not run' : result.replayIdentical ? 'identical' : 'DIVERGED'}`,
    ),
  ].join('\n');
}

/**
 * Steps averaged from step 10 and up to the last step. A hundred, not fewer: on a SQLite file
 * a WAL checkpoint lands every few hundred steps and costs some twenty steps' CPU at once, as
 * does a major collection; a 20-step window measured whether one of them fell inside it (0.4
 * ms a step without, 1.2-2 ms with), not what a step costs. Growth with the run's length would
 * show in a 100-step window as in a 20-step one.
 */
export const STEP_GROWTH_WINDOW = 100;
/** Long runs measured per store (the median of each window is reported). */
export const STEP_GROWTH_RUNS = 5;

// Alone (`node dist/bench/step-growth.js [--json] [--file]`): one store, in memory unless
// `--file` asks for a SQLite file in a temporary directory.
await runAlone(
  import.meta.url,
  async () => {
    const file = process.argv.includes('--file');
    const directory = file ? await mkdtemp(join(tmpdir(), 'keel-step-growth-')) : undefined;
    try {
      return await measureStepGrowth({
        storeUrl:
          directory === undefined ? 'sqlite::memory:' : `sqlite:${join(directory, 'long.db')}`,
        steps: 1000,
        window: STEP_GROWTH_WINDOW,
        replay: true,
      });
    } finally {
      if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    }
  },
  (result) => renderStepGrowth([result]),
);
