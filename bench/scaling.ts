import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createRuntime, openStore, type Store } from '../src/index.js';
import { startFakeOpenAIServer } from '../src/testing.js';
import { benchScript, spawnFakeServer } from './child-processes.js';
import { runAlone } from './run-alone.js';
import { SCALING_AGENT, scalingAgent, type ScalingWorkerConfig } from './scaling-agent.js';
import { percentile, round } from './stats.js';

/**
 * Scale-out on PostgreSQL: 1, 2, 4 and 8 worker processes (each as `keel worker` runs: its own
 * pool, claiming from the shared queue) on an I/O-bound load: 2 tool calls of 20 ms each and a
 * final answer per run (3 model calls), with two model latencies: 50 ms (a fast model, where
 * this 2-core machine runs out of CPU before the workers run out of work) and 250 ms (still
 * faster than most hosted models). The driver
 * keeps exactly `workers × concurrency` runs outstanding, submitting one as each ends, so every
 * slot is busy and a queued run waits only for the claim path (NOTIFY, claim query). Counted
 * over a fixed window after a warm-up: runs/s, model steps/s, claim latency (submitted →
 * `run_claimed`) p50/p99, and store time per step (every store call awaited by the workers,
 * summed, over their model calls), the workers' CPU time per run, and how busy the machine's
 * CPUs were (/proc/stat) over the window. The same load on one SQLite process (it submits its own
 * runs, as SQLite is deployed) at the concurrency of one worker and of four. Then submit →
 * first model call on an idle PostgreSQL worker polling only once a second: the LISTEN/NOTIFY
 * wake-up. Each measurement has a schema of its own, dropped after.
 *
 * The machine is shared: the load average is recorded next to each figure.
 */
export interface ScalingCase {
  /** The load profile's name (its model latency). */
  readonly profile: string;
  readonly store: 'postgres' | 'sqlite';
  readonly workers: number;
  readonly concurrency: number;
  readonly runs: number;
  readonly runsPerSecond: number;
  readonly stepsPerSecond: number;
  /** Runs/s over the one-worker PostgreSQL case. */
  readonly speedup: number;
  readonly claimP50Ms: number;
  readonly claimP99Ms: number;
  readonly storeMsPerStep: number;
  readonly storeCallsPerStep: number;
  /** CPU time of the worker processes over the window, per run finished in it. */
  readonly workerCpuMsPerRun: number;
  /** Share of the machine's CPU time that was busy over the window (0–1; NaN off Linux). */
  readonly machineCpuBusy: number;
  readonly loadAverage1m: number;
}

export interface ScalingProfile {
  readonly name: string;
  readonly modelLatencyMs: number;
  readonly toolLatencyMs: number;
  readonly windowSeconds: number;
}

export interface ScalingReport {
  readonly modelCallsPerRun: number;
  readonly cores: number;
  readonly profiles: readonly ScalingProfile[];
  readonly cases: readonly ScalingCase[];
  readonly idle: {
    readonly samples: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly loadAverage1m: number;
  } | null;
  readonly targets: { readonly fourWorkersSpeedup: number; readonly idleP50Ms: number };
  readonly within: {
    /** Per profile: 4 workers ≥ the target × one worker. */
    readonly fourWorkersSpeedup: Readonly<Record<string, boolean>>;
    readonly idleP50Ms: boolean;
  } | null;
  readonly note: string;
}

export const SCALING_TARGETS = { fourWorkersSpeedup: 3.5, idleP50Ms: 20 } as const;

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOOL_LATENCY_MS = 20;
const PROFILES: readonly ScalingProfile[] = [
  { name: 'model 50 ms', modelLatencyMs: 50, toolLatencyMs: TOOL_LATENCY_MS, windowSeconds: 4 },
  { name: 'model 250 ms', modelLatencyMs: 250, toolLatencyMs: TOOL_LATENCY_MS, windowSeconds: 8 },
];
const TOOL_CALLS_PER_RUN = 2;
const CONCURRENCY = 4;
const WARMUP_MS = 3_000;
const WORKER_COUNTS = [1, 2, 4, 8] as const;
const IDLE_SAMPLES = 30;

interface WorkerStats {
  readonly ms: number;
  readonly calls: number;
  readonly modelCalls: number;
  readonly cpuMs: number;
}

/** The machine's CPU time so far (Linux /proc/stat, in clock ticks): busy and in all. */
function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    // idle and iowait are the 4th and 5th fields.
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}

function busyBetween(from: { busy: number; total: number }): number {
  const to = machineCpu();
  return (to.busy - from.busy) / (to.total - from.total);
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  /** The `stats` line it prints when stopped. */
  readonly stats: Promise<WorkerStats>;
  /** Its `mark` line: the same figures at the window's start. */
  readonly mark: Promise<WorkerStats>;
  onEnd?: ((runId: string) => void) | undefined;
}

function startWorker(config: ScalingWorkerConfig): WorkerProcess {
  const child = spawn(
    process.execPath,
    [benchScript('scaling-worker.js'), JSON.stringify(config)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let buffered = '';
  let readyNow: () => void = () => undefined;
  let statsNow: (stats: WorkerStats) => void = () => undefined;
  let markNow: (stats: WorkerStats) => void = () => undefined;
  const worker: WorkerProcess = {
    child,
    ready: new Promise((resolve) => (readyNow = resolve)),
    stats: new Promise((resolve) => (statsNow = resolve)),
    mark: new Promise((resolve) => (markNow = resolve)),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line === 'ready') readyNow();
      else if (line.startsWith('end ')) worker.onEnd?.(line.slice(4));
      else if (line.startsWith('stats ')) statsNow(JSON.parse(line.slice(6)) as WorkerStats);
      else if (line.startsWith('mark ')) markNow(JSON.parse(line.slice(5)) as WorkerStats);
      newline = buffered.indexOf('\n');
    }
  });
  child.once('exit', (code) => {
    readyNow();
    const none = { ms: Number.NaN, calls: Number.NaN, modelCalls: Number.NaN, cpuMs: Number.NaN };
    statsNow(none);
    markNow(none);
    if (code !== 0 && code !== null) process.stderr.write(`scaling worker exited ${code}\n`);
  });
  return worker;
}

/** Marks the window's start in every worker (store time from here on). */
function markWorkers(workers: readonly WorkerProcess[]): void {
  for (const worker of workers) worker.child.kill('SIGUSR2');
}

/** Stops the workers; their store time and model calls since the mark, summed. */
async function stopWorkers(workers: readonly WorkerProcess[]): Promise<WorkerStats> {
  for (const worker of workers) worker.child.kill('SIGTERM');
  const all = await Promise.all(
    workers.map(async (worker) => {
      const [mark, stats] = await Promise.all([worker.mark, worker.stats]);
      return {
        ms: stats.ms - mark.ms,
        calls: stats.calls - mark.calls,
        modelCalls: stats.modelCalls - mark.modelCalls,
        cpuMs: stats.cpuMs - mark.cpuMs,
      };
    }),
  );
  return all.reduce(
    (sum, stats) => ({
      ms: sum.ms + stats.ms,
      calls: sum.calls + stats.calls,
      modelCalls: sum.modelCalls + stats.modelCalls,
      cpuMs: sum.cpuMs + stats.cpuMs,
    }),
    { ms: 0, calls: 0, modelCalls: 0, cpuMs: 0 },
  );
}

/** Runs finished inside the window, their steps, and claim latency of runs submitted in it. */
async function judge(
  store: Store,
  window: { from: number; to: number },
): Promise<{ runs: number; steps: number; claimMs: number[] }> {
  const records = await store.listRuns({ limit: 1_000_000 });
  let runs = 0;
  let steps = 0;
  const claimMs: number[] = [];
  const submittedInWindow = records.filter(
    (record) => record.createdAt >= window.from && record.createdAt < window.to,
  );
  for (const record of records) {
    if (
      record.finishedAt !== null &&
      record.finishedAt >= window.from &&
      record.finishedAt < window.to
    ) {
      runs += 1;
      steps += record.steps;
    }
  }
  // At most 300 runs, evenly spaced: the journal of each is read for its claim.
  const every = Math.max(1, Math.floor(submittedInWindow.length / 300));
  for (let index = 0; index < submittedInWindow.length; index += every) {
    const record = submittedInWindow[index];
    if (!record) continue;
    const claimed = (await store.readEvents(record.id)).find(
      (entry) => entry.event.type === 'run_claimed',
    );
    if (claimed) claimMs.push(claimed.at - record.createdAt);
  }
  return { runs, steps, claimMs };
}

/** One row: the window's runs and steps per second, claim latency, store and CPU time. */
function scalingCase(
  profile: ScalingProfile,
  setup: Pick<ScalingCase, 'store' | 'workers' | 'concurrency'>,
  measured: {
    readonly judged: { runs: number; steps: number; claimMs: number[] };
    readonly time: WorkerStats;
    readonly windowMs: number;
    readonly machineCpuBusy: number;
    readonly loadAverage1m: number;
  },
): ScalingCase {
  const { judged, time, windowMs } = measured;
  return {
    profile: profile.name,
    ...setup,
    runs: judged.runs,
    runsPerSecond: round(judged.runs / (windowMs / 1_000), 1),
    stepsPerSecond: round(judged.steps / (windowMs / 1_000), 1),
    speedup: 1,
    claimP50Ms: round(percentile(judged.claimMs, 0.5), 1),
    claimP99Ms: round(percentile(judged.claimMs, 0.99), 1),
    storeMsPerStep: round(time.ms / time.modelCalls, 2),
    storeCallsPerStep: round(time.calls / time.modelCalls, 1),
    workerCpuMsPerRun: round(time.cpuMs / judged.runs, 1),
    machineCpuBusy: round(measured.machineCpuBusy, 2),
    loadAverage1m: round(measured.loadAverage1m, 2),
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
}

async function measurePostgres(
  profile: ScalingProfile,
  workerCount: number,
  modelUrl: string,
): Promise<ScalingCase> {
  const windowMs = profile.windowSeconds * 1_000;
  const schema = `keel_bench_scale_${randomBytes(5).toString('hex')}`;
  const storeUrl = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const store = await openStore(storeUrl, { poolSize: 4 });
  const driver = createRuntime({ store, agents: [scalingAgent(modelUrl, TOOL_LATENCY_MS)] });
  const workers = Array.from({ length: workerCount }, () =>
    startWorker({
      storeUrl,
      modelUrl,
      concurrency: CONCURRENCY,
      toolLatencyMs: TOOL_LATENCY_MS,
      pollMs: 200,
      poolSize: 4,
    }),
  );
  try {
    await Promise.all(workers.map((worker) => worker.ready));
    let submitted = 0;
    const submit = (): void => {
      submitted += 1;
      driver.submit(SCALING_AGENT, `scaling task ${submitted}`).catch(() => undefined);
    };
    for (const worker of workers) worker.onEnd = submit;
    for (let index = 0; index < workerCount * CONCURRENCY; index++) submit();
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    const from = Date.now();
    const cpuFrom = machineCpu();
    markWorkers(workers);
    const loadAverage1m = loadavg()[0] ?? 0;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const to = Date.now();
    const machineCpuBusy = busyBetween(cpuFrom);
    for (const worker of workers) worker.onEnd = undefined;
    const time = await stopWorkers(workers);
    const judged = await judge(store, { from, to });
    return scalingCase(
      profile,
      { store: 'postgres', workers: workerCount, concurrency: CONCURRENCY },
      {
        judged,
        time,
        windowMs,
        machineCpuBusy,
        loadAverage1m,
      },
    );
  } finally {
    for (const worker of workers) worker.child.kill('SIGTERM');
    await driver.close();
    await store.close();
    await dropSchema(schema);
  }
}

async function measureSqlite(
  profile: ScalingProfile,
  concurrency: number,
  modelUrl: string,
): Promise<ScalingCase> {
  const windowMs = profile.windowSeconds * 1_000;
  const directory = mkdtempSync(join(tmpdir(), 'keel-bench-scale-'));
  const storeUrl = `sqlite:${join(directory, 'scale.db')}`;
  try {
    // Created (and migrated) here first, so the worker process opens a ready file.
    await (await openStore(storeUrl)).close();
    const worker = startWorker({
      storeUrl,
      modelUrl,
      concurrency,
      toolLatencyMs: TOOL_LATENCY_MS,
      pollMs: 200,
      poolSize: 1,
      selfFeed: concurrency,
    });
    await worker.ready;
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    const from = Date.now();
    const cpuFrom = machineCpu();
    markWorkers([worker]);
    const loadAverage1m = loadavg()[0] ?? 0;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const to = Date.now();
    const machineCpuBusy = busyBetween(cpuFrom);
    const time = await stopWorkers([worker]);
    const store = await openStore(storeUrl);
    const judged = await judge(store, { from, to });
    await store.close();
    return scalingCase(
      profile,
      { store: 'sqlite', workers: 1, concurrency },
      {
        judged,
        time,
        windowMs,
        machineCpuBusy,
        loadAverage1m,
      },
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Submit → the model server receives the run's first request, one run at a time. */
async function measureIdle(): Promise<ScalingReport['idle']> {
  const arrived = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  const server = await startFakeOpenAIServer({
    respond({ body }) {
      const user = body.messages.find((message) => message.role === 'user');
      const task = typeof user?.content === 'string' ? user.content : '';
      if (!arrived.has(task)) {
        arrived.set(task, performance.now());
        waiting.get(task)?.();
      }
      return { content: 'done' };
    },
  });
  const schema = `keel_bench_scale_${randomBytes(5).toString('hex')}`;
  const storeUrl = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const store = await openStore(storeUrl, { poolSize: 2 });
  const driver = createRuntime({ store, agents: [scalingAgent(server.url, 0)] });
  // Polling once a second: a figure far below that is the NOTIFY wake-up.
  const worker = startWorker({
    storeUrl,
    modelUrl: server.url,
    concurrency: 4,
    toolLatencyMs: 0,
    pollMs: 1_000,
    poolSize: 2,
  });
  const samples: number[] = [];
  let loadAverage1m = 0;
  try {
    await worker.ready;
    for (let index = 0; index < IDLE_SAMPLES + 5; index++) {
      const task = `idle task ${index}`;
      const heard = new Promise<void>((resolve) => waiting.set(task, resolve));
      // Idle: the previous run has ended and the worker waits on its poll.
      await new Promise((resolve) => setTimeout(resolve, 60));
      const submittedAt = performance.now();
      await driver.submit(SCALING_AGENT, task);
      await heard;
      if (index >= 5) samples.push((arrived.get(task) ?? Number.NaN) - submittedAt);
      if (index === 5) loadAverage1m = loadavg()[0] ?? 0;
    }
  } finally {
    markWorkers([worker]);
    await worker.mark;
    await stopWorkers([worker]);
    await driver.close();
    await store.close();
    await server.close();
    await dropSchema(schema);
  }
  return {
    samples: samples.length,
    p50Ms: round(percentile(samples, 0.5), 1),
    p99Ms: round(percentile(samples, 0.99), 1),
    loadAverage1m: round(loadAverage1m, 2),
  };
}

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export async function measureScaling(): Promise<ScalingReport> {
  const cases: ScalingCase[] = [];
  let idle: ScalingReport['idle'] = null;
  const reachable = await postgresReachable();
  for (const profile of PROFILES) {
    const server = await spawnFakeServer({
      latencyMs: profile.modelLatencyMs,
      toolCallsPerRun: TOOL_CALLS_PER_RUN,
    });
    try {
      if (reachable)
        for (const workers of WORKER_COUNTS)
          cases.push(await measurePostgres(profile, workers, server.url));
      cases.push(await measureSqlite(profile, CONCURRENCY, server.url));
      cases.push(await measureSqlite(profile, 4 * CONCURRENCY, server.url));
    } finally {
      await server.stop();
    }
  }
  if (reachable) idle = await measureIdle();
  const withSpeedup = cases.map((entry) => {
    const one = cases.find(
      (other) =>
        other.profile === entry.profile && other.store === 'postgres' && other.workers === 1,
    );
    return {
      ...entry,
      speedup: one ? round(entry.runsPerSecond / one.runsPerSecond, 2) : Number.NaN,
    };
  });
  const fourWorkersSpeedup: Record<string, boolean> = {};
  for (const entry of withSpeedup)
    if (entry.store === 'postgres' && entry.workers === 4)
      fourWorkersSpeedup[entry.profile] = entry.speedup >= SCALING_TARGETS.fourWorkersSpeedup;
  return {
    modelCallsPerRun: TOOL_CALLS_PER_RUN + 1,
    cores: cpus().length,
    profiles: PROFILES,
    cases: withSpeedup,
    idle,
    targets: SCALING_TARGETS,
    within: idle
      ? { fourWorkersSpeedup, idleP50Ms: idle.p50Ms <= SCALING_TARGETS.idleP50Ms }
      : null,
    note: 'Measured on a shared machine: the 1-minute load average and how busy the CPUs were are given next to each case. A machine CPU near 1.0 means the row measured the machine, not the workers.',
  };
}

export function renderScaling(report: ScalingReport): string {
  const profiles = report.profiles
    .map((profile) => `${profile.name} (window ${profile.windowSeconds} s)`)
    .join(', ');
  const lines = [
    `Scale-out: I/O-bound runs (${report.modelCallsPerRun} model calls and ${report.modelCallsPerRun - 1} tool calls of ${report.profiles[0]?.toolLatencyMs ?? 0} ms per run) on ${report.cores} cores; ${profiles}`,
    '| load | store | workers × concurrency | runs/s | steps/s | × one PG worker | claim p50 / p99 (ms) | store ms / step | store calls / step | worker CPU ms / run | machine CPU busy | load 1m |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ms = (value: number): string => (Number.isNaN(value) ? '—' : String(value));
  for (const entry of report.cases)
    lines.push(
      `| ${entry.profile} | ${entry.store === 'postgres' ? 'PostgreSQL' : 'SQLite (one process)'} | ${entry.workers} × ${entry.concurrency} | ${entry.runsPerSecond} | ${entry.stepsPerSecond} | ${entry.speedup} | ${ms(entry.claimP50Ms)} / ${ms(entry.claimP99Ms)} | ${entry.storeMsPerStep} | ${entry.storeCallsPerStep} | ${ms(entry.workerCpuMsPerRun)} | ${ms(entry.machineCpuBusy)} | ${entry.loadAverage1m} |`,
    );
  if (report.cases.every((entry) => entry.store === 'sqlite'))
    lines.push('PostgreSQL not reachable (KEEL_TEST_POSTGRES_URL): its cases were skipped.');
  if (report.idle)
    lines.push(
      `Submit → first model call, idle PostgreSQL worker (polls every 1 s; LISTEN/NOTIFY): p50 ${report.idle.p50Ms} ms, p99 ${report.idle.p99Ms} ms over ${report.idle.samples} runs (target p50 ≤ ${report.targets.idleP50Ms} ms; load 1m ${report.idle.loadAverage1m})`,
    );
  if (report.within) {
    const speedups = Object.entries(report.within.fourWorkersSpeedup)
      .map(([profile, met]) => `${profile}: ${met ? 'yes' : 'no'}`)
      .join(', ');
    lines.push(
      `4 workers ≥ ${report.targets.fourWorkersSpeedup}× one — ${speedups}; idle p50 ≤ ${report.targets.idleP50Ms} ms: ${report.within.idleP50Ms ? 'yes' : 'no'}`,
    );
  }
  lines.push(report.note);
  return lines.join('\n');
}

await runAlone(import.meta.url, () => measureScaling(), renderScaling);
