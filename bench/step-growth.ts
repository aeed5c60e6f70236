// Per-step CPU as a run grows: one simulator agent with one `read` tool and no context
// options, run to a thousand model steps; the process CPU spent between consecutive model
// calls is taken at every step of steps 10-110 and 900-1,000 (see STEP_GROWTH_WINDOW). The
// long run is repeated and every run's steps pooled per window. The process CPU the kernel
// reports moves in jumps: a step of 0.3 ms of wall time can read 4.3 ms of CPU (user and
// system time are split by samples at the 4 ms scheduler tick and each is kept from going
// back, so their sum runs ahead, then stands still), and a few steps really stall for ~3 ms (a
// collection, a compilation); a window's plain mean moves with how many of those fell inside
// it. So each window gives its median step and the mean of its steps under their 90th
// percentile, and the target applies to the larger of the two ratios: work that grows with the
// conversation moves every step (both), work that grows in some steps only moves the trimmed
// mean unless they are fewer than one in ten. The windows' plain means are printed beside.
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
import { mean, median, round } from './stats.js';

export interface StepGrowthOptions {
  /** A `sqlite:` store URL. */
  readonly storeUrl: string;
  readonly steps: number;
  /** Steps in each window: from step 10, and up to the last step. */
  readonly window: number;
  /** Replay the run and report whether it came out identical. */
  readonly replay: boolean;
  /** Long runs measured; their steps in each window are pooled. */
  readonly runs?: number;
}

export interface StepGrowthResult {
  readonly store: string;
  readonly steps: number;
  /**
   * CPU (user + system) of the median step from step 10 and of the median step up to the last
   * one, over every run's steps in each window, in ms.
   */
  readonly cpuPerStepMs: { readonly early: number; readonly late: number };
  /** The mean CPU of each window's steps under its 90th percentile, in ms. */
  readonly trimmedCpuPerStepMs: { readonly early: number; readonly late: number };
  /** The larger of the median steps' and the trimmed means' `late / early`: what is judged. */
  readonly ratio: number;
  /**
   * The windows' mean CPU per step (median over runs) and their ratio: a compilation or
   * collection landing in a window moves these.
   */
  readonly meanCpuPerStepMs: { readonly early: number; readonly late: number };
  readonly meanRatio: number;
  readonly runs: number;
  readonly replayIdentical: boolean | null;
}

/** A window of steps (`from` to `to`, both read) and what it pooled over the runs. */
interface StepWindow {
  readonly from: number;
  readonly to: number;
  /** Every run's steps' CPU, in ms. */
  readonly steps: number[];
  /** Each run's mean step, in ms. */
  readonly means: number[];
}

// Warm-up: whole long runs. The compiler keeps reoptimising the step's code for the first few
// thousand steps of a process (deoptimised on new object shapes, then compiled again); after
// 150 steps only, step 10 fell before that churn and step 1,000 in it, and their ratio
// measured the compiler's progress (1.0 once warm, up to 3× before) instead of the step.
const WARMUP_RUNS = 3;
const readInput = z.object({ key: z.string() });

/** Runs long runs and takes the CPU of every step early and late in each. */
export async function measureStepGrowth({
  storeUrl,
  steps,
  window,
  replay,
  runs = STEP_GROWTH_RUNS,
}: StepGrowthOptions): Promise<StepGrowthResult> {
  // CPU is read at every step of the two windows (about a microsecond, alike in both).
  const early: StepWindow = { from: 10, to: 10 + window, steps: [], means: [] };
  const late: StepWindow = { from: steps - window, to: steps, steps: [], means: [] };
  const within = (step: number, { from, to }: StepWindow): boolean => step >= from && step <= to;
  const cpuAtStep = new Map<number, number>();
  let measuring = false;
  const model = simulator({
    script: ({ step }) => {
      if (measuring && (within(step, early) || within(step, late))) {
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
  /** Adds this run's steps in `window` (each from one model call to the next) and their mean. */
  const take = (span: StepWindow): void => {
    const costs: number[] = [];
    for (let step = span.from; step < span.to; step++) {
      costs.push((cpuAtStep.get(step + 1) ?? Number.NaN) - (cpuAtStep.get(step) ?? Number.NaN));
    }
    span.steps.push(...costs);
    span.means.push(mean(costs));
  };
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
      // Every step of both windows read, or the figures would be NaN (and sort as anything).
      const expected = early.to - early.from + 1 + (late.to - late.from + 1);
      if (cpuAtStep.size !== expected)
        throw new Error(`step growth: read ${cpuAtStep.size} steps of ${expected}`);
      take(early);
      take(late);
    }
  } finally {
    await runtime.close();
  }
  let replayIdentical: boolean | null = null;
  if (replay) {
    const report = await replayRun({ agent, runId, journal: await store.readEvents(runId) });
    replayIdentical = report.identical;
  }
  await store.close();
  /** One figure of both windows, in ms. */
  const pair = (of: (span: StepWindow) => number): { early: number; late: number } => ({
    early: round(of(early), 3),
    late: round(of(late), 3),
  });
  return {
    store: storeUrl === 'sqlite::memory:' ? 'sqlite in memory' : 'sqlite file',
    steps,
    cpuPerStepMs: pair((span) => median(span.steps)),
    trimmedCpuPerStepMs: pair((span) => trimmedMean(span.steps)),
    // Judged before rounding; rounded for the report.
    ratio: Math.max(
      median(late.steps) / median(early.steps),
      trimmedMean(late.steps) / trimmedMean(early.steps),
    ),
    meanCpuPerStepMs: pair((span) => median(span.means)),
    meanRatio: round(median(late.means) / median(early.means), 2),
    runs,
    replayIdentical,
  };
}

/** The ratio a long run's late steps may cost over its early ones. */
export const STEP_GROWTH_TARGET = 1.3;

/** The mean of the samples under their 90th percentile. */
function trimmedMean(samples: readonly number[]): number {
  const sorted = [...samples].sort((left, right) => left - right);
  return mean(sorted.slice(0, Math.max(1, Math.floor(sorted.length * 0.9))));
}

export function renderStepGrowth(results: readonly StepGrowthResult[]): string {
  const early = `steps 10-${10 + STEP_GROWTH_WINDOW}`;
  return [
    `per-step CPU as a run grows (simulator, one read tool, no context options; every step of two ${STEP_GROWTH_WINDOW}-step windows of ${results[0]?.runs ?? STEP_GROWTH_RUNS} runs):`,
    ...results.map((result) => {
      const late = `steps ${result.steps - STEP_GROWTH_WINDOW}-${result.steps}`;
      const ratio = (late: number, early: number): string => (late / early).toFixed(2);
      return [
        `  ${result.store}: ratio ${result.ratio.toFixed(2)} (target <= ${STEP_GROWTH_TARGET}: ${result.ratio <= STEP_GROWTH_TARGET ? 'met' : 'MISSED'}); replay ${result.replayIdentical === null ? 'not run' : result.replayIdentical ? 'identical' : 'DIVERGED'}`,
        `    median step: ${early} ${result.cpuPerStepMs.early} ms, ${late} ${result.cpuPerStepMs.late} ms (${ratio(result.cpuPerStepMs.late, result.cpuPerStepMs.early)}x)`,
        `    mean under the 90th percentile: ${result.trimmedCpuPerStepMs.early} ms, ${result.trimmedCpuPerStepMs.late} ms (${ratio(result.trimmedCpuPerStepMs.late, result.trimmedCpuPerStepMs.early)}x)`,
        `    windows' plain means (not judged): ${result.meanCpuPerStepMs.early} ms, ${result.meanCpuPerStepMs.late} ms (${result.meanRatio}x)`,
      ].join('\n');
    }),
  ].join('\n');
}

/**
 * Steps taken from step 10 and up to the last step: a hundred of each run, five runs, so the
 * median step and the trimmed mean stand on 500 steps each. On a SQLite file a WAL checkpoint
 * lands every few hundred steps and costs some twenty steps' CPU at once, as does a major
 * collection; the windows' plain means, printed beside, move with how many of those fell
 * inside.
 */
export const STEP_GROWTH_WINDOW = 100;
/** Long runs measured per store (every step of each window is pooled). */
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
