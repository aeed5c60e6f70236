import { createRuntime, openStore, type OpenStoreOptions, type Store } from '../src/index.js';
import {
  AGENT_NAME,
  MODEL_CALLS_PER_RUN,
  TOOL_CALLS_PER_RUN,
  bareLoop,
  bareRunSucceeded,
  benchAgent,
} from './bench-workload.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnFakeServer } from './child-processes.js';
import { runAlone } from './run-alone.js';
import { round, summarize, type Timing } from './stats.js';

export interface PerStepOptions {
  readonly baseURL: string;
  /** A `sqlite:` store URL; each measurement gets a fresh file. */
  readonly storeUrl: string;
  readonly sqliteSync?: OpenStoreOptions['sqliteSync'];
  readonly warmupRuns: number;
  readonly runs: number;
  /** Runs of one kind in a row before switching to the other. */
  readonly blockSize: number;
  /** Stop interleaving early (keeping what was measured) once this much time has passed. */
  readonly budgetMs: number;
  /** Called after every pair of blocks, e.g. to sample the disk under the same load. */
  readonly betweenBlocks?: () => void;
}

export interface PerStepResult {
  readonly store: string;
  readonly bare: Timing;
  readonly keel: Timing;
  /** (keel − bare) / 6 model calls, from medians and from means. */
  readonly overheadPerStepMs: { readonly fromMedian: number; readonly fromMean: number };
  /**
   * This process's CPU time (user + system) per step, mean over the measured runs: the fake
   * server runs in its own process, so this is the client's work alone.
   */
  readonly cpuPerStepMs: {
    readonly keel: number;
    readonly bare: number;
    readonly overhead: number;
  };
  /** Runs that did not end as scripted (should be 0). */
  readonly failedRuns: number;
}

/** How the per-step rows run, in `npm run bench` and alone: all but the server and the store. */
export const PER_STEP_OPTIONS = {
  /**
   * Runs of each loop before the measured ones: a worker's steady state. After 150 (900
   * steps), `--trace-opt` still showed V8 compiling Keel's step functions some 230 times over
   * the 300 measured runs; after 600, 44 times; after 1,200, 15. Those compilations run on
   * V8's threads and count in the process's CPU (0.17-0.19 ms a step more on a SQLite file,
   * 150 against 1,000 warm-up runs, alternated); they belong to a process's first minute, not
   * its steps.
   */
  warmupRuns: 600,
  runs: 300,
  blockSize: 10,
  budgetMs: 25_000,
} as const;

/**
 * Times a Keel run against the hand-written loop, alternating blocks of each so drift in
 * machine load hits both alike. Every run talks to the same fake server.
 */
export async function measurePerStep({
  baseURL,
  storeUrl,
  sqliteSync,
  warmupRuns,
  runs,
  blockSize,
  budgetMs,
  betweenBlocks,
}: PerStepOptions): Promise<PerStepResult> {
  const store = await openStore(storeUrl, sqliteSync === undefined ? {} : { sqliteSync });
  const runtime = createRuntime({ store, agents: [benchAgent(baseURL)] });
  const bare = bareLoop(baseURL);
  let failedRuns = 0;
  let taskNumber = 0;
  const cpu = { keel: 0, bare: 0 };

  async function timeKeel(): Promise<number> {
    const startedAt = performance.now();
    const cpuAt = process.cpuUsage();
    const result = await runtime.run(AGENT_NAME, `Look up the items (run ${++taskNumber})`);
    const elapsed = performance.now() - startedAt;
    cpu.keel += cpuMs(process.cpuUsage(cpuAt));
    if (result.status !== 'succeeded' || result.steps !== MODEL_CALLS_PER_RUN) failedRuns += 1;
    return elapsed;
  }
  async function timeBare(): Promise<number> {
    const startedAt = performance.now();
    const cpuAt = process.cpuUsage();
    const result = await bare(`Look up the items (run ${++taskNumber})`);
    const elapsed = performance.now() - startedAt;
    cpu.bare += cpuMs(process.cpuUsage(cpuAt));
    if (!bareRunSucceeded(result)) failedRuns += 1;
    return elapsed;
  }

  try {
    for (let index = 0; index < warmupRuns; index++) {
      await timeBare();
      await timeKeel();
    }
    failedRuns = 0;
    cpu.keel = 0;
    cpu.bare = 0;
    const bareMs: number[] = [];
    const keelMs: number[] = [];
    const startedAt = performance.now();
    for (let block = 0; keelMs.length < runs; block++) {
      // Alternate which kind goes first so neither always follows the other's garbage.
      const order = block % 2 === 0 ? (['bare', 'keel'] as const) : (['keel', 'bare'] as const);
      for (const kind of order) {
        for (let index = 0; index < blockSize; index++) {
          if (kind === 'bare') bareMs.push(await timeBare());
          else keelMs.push(await timeKeel());
        }
      }
      betweenBlocks?.();
      if (performance.now() - startedAt > budgetMs) break;
    }
    const bareTiming = summarize(bareMs);
    const keelTiming = summarize(keelMs);
    const keelCpu = cpu.keel / keelMs.length / MODEL_CALLS_PER_RUN;
    const bareCpu = cpu.bare / bareMs.length / MODEL_CALLS_PER_RUN;
    return {
      store: describeStore(storeUrl, sqliteSync),
      bare: bareTiming,
      keel: keelTiming,
      overheadPerStepMs: {
        fromMedian: round((keelTiming.medianMs - bareTiming.medianMs) / MODEL_CALLS_PER_RUN),
        fromMean: round((keelTiming.meanMs - bareTiming.meanMs) / MODEL_CALLS_PER_RUN),
      },
      cpuPerStepMs: {
        keel: round(keelCpu),
        bare: round(bareCpu),
        overhead: round(keelCpu - bareCpu),
      },
      failedRuns,
    };
  } finally {
    await runtime.close();
    await store.close();
  }
}

function cpuMs({ user, system }: NodeJS.CpuUsage): number {
  return (user + system) / 1000;
}

function describeStore(storeUrl: string, sqliteSync: OpenStoreOptions['sqliteSync']): string {
  if (storeUrl === 'sqlite::memory:') return 'sqlite in memory';
  return `sqlite file, synchronous=${(sqliteSync ?? 'full').toUpperCase()}`;
}

/**
 * Counts the store writes (run creation and journal appends) of one run. Run alone, each
 * write is its own transaction, so this is the number of commits (fsyncs under FULL) per run.
 */
export async function countCommitsPerRun({
  baseURL,
  storeUrl,
}: {
  baseURL: string;
  storeUrl: string;
}): Promise<number> {
  const store = await openStore(storeUrl);
  const counter = { writes: 0 };
  const runtime = createRuntime({
    store: countingStore(store, counter),
    agents: [benchAgent(baseURL)],
  });
  try {
    await runtime.run(AGENT_NAME, 'Look up the items (counted run)');
    return counter.writes;
  } finally {
    await runtime.close();
    await store.close();
  }
}

function countingStore(store: Store, counter: { writes: number }): Store {
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      // Call on the real store: its #private fields are not reachable through the proxy.
      if (key === 'append' || key === 'createRun') {
        return (...args: unknown[]) => {
          counter.writes += 1;
          return method.apply(target, args);
        };
      }
      return method.bind(target);
    },
  });
}

/**
 * `node dist/bench/per-step.js [--json]`: the per-step rows alone (SQLite file with
 * synchronous=FULL, then in memory) against a fake server of their own, with the load average.
 */
await runAlone(
  import.meta.url,
  async () => {
    const server = await spawnFakeServer({ latencyMs: 0, toolCallsPerRun: TOOL_CALLS_PER_RUN });
    const directory = mkdtempSync(join(tmpdir(), 'keel-per-step-'));
    const loadAverage = loadavg()[0] ?? 0;
    try {
      // Steady state, as a worker runs: both loops warmed past the JIT's compilations.
      const options = { ...PER_STEP_OPTIONS, baseURL: server.url };
      const full = await measurePerStep({
        ...options,
        storeUrl: `sqlite:${join(directory, 'full.db')}`,
        sqliteSync: 'full',
      });
      const memory = await measurePerStep({
        ...options,
        storeUrl: 'sqlite::memory:',
      });
      return { loadAverage: round(loadAverage), results: [full, memory] };
    } finally {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  },
  ({ loadAverage, results }) =>
    [
      `per-step overhead over the hand-written openai loop (load average ${loadAverage} at start):`,
      ...results.map(
        (result) =>
          `  ${result.store}: wall ${result.overheadPerStepMs.fromMedian} ms (median) / ${result.overheadPerStepMs.fromMean} ms (mean); CPU ${result.cpuPerStepMs.keel} ms per step vs ${result.cpuPerStepMs.bare} ms, overhead ${result.cpuPerStepMs.overhead} ms${result.failedRuns > 0 ? ` (${result.failedRuns} FAILED)` : ''}`,
      ),
    ].join('\n'),
);
