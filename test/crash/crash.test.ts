import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/core/index.js';
import { createRuntime, openStore, type Store } from '../../src/index.js';
import { type StoredEvent } from '../../src/exports/journal.js';
import {
  CRASH_AGENT,
  createCrashAgents,
  crashTask,
  expectedOutput,
  readSideEffects,
  type SideEffectLine,
} from './crash-agents.js';

/*
 * DESIGN.md rule 1, "Durable before visible", tested the hard way: worker processes are killed
 * with SIGKILL at random instants while they execute runs, then a last worker finishes the
 * work. Every run must succeed with the output its task implies; no completed tool call may be
 * issued again; an interrupted one is re-issued with the same idempotency key.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));

const RUNS = 16;
/** Kills per backend; more (up to `MAX_KILLS`) while no re-issued tool call has been seen. */
const KILLS = 8;
const MAX_KILLS = 14;
/** Worker processes loading ahead of need (a start takes longer than a life; more starve it). */
const PRELOADED_WORKERS = 1;
const KILL_AFTER_MS = { min: 80, max: 400 } as const;
const WORKER_READY_TIMEOUT_MS = 20_000;
const FINISH_TIMEOUT_MS = 40_000;
const TEST_TIMEOUT_MS = 90_000;

const SEED = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : randomInt(2 ** 31);
console.log(`crash test seed ${SEED} (reproduce the kill timings with CRASH_SEED=${SEED})`);

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** An explicitly configured server must be reachable; the default one is skipped if absent. */
const postgresReachable =
  process.env.KEEL_TEST_POSTGRES_URL !== undefined || (await canConnect(POSTGRES_URL));
if (!postgresReachable) console.warn(`crash test: no PostgreSQL at ${POSTGRES_URL}; skipped`);

interface Backend {
  readonly name: 'sqlite' | 'postgres';
  readonly enabled: boolean;
  /** Returns the store URL and a cleanup that removes what the backend created. */
  prepare(directory: string): Promise<{ url: string; dispose(): Promise<void> }>;
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    enabled: true,
    prepare: (directory) =>
      Promise.resolve({ url: `sqlite:${join(directory, 'keel.db')}`, dispose: async () => {} }),
  },
  {
    name: 'postgres',
    enabled: postgresReachable,
    prepare(): Promise<{ url: string; dispose(): Promise<void> }> {
      const schema = `keel_crash_${randomBytes(6).toString('hex')}`;
      const url = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
      return Promise.resolve({
        url,
        dispose: () =>
          withPostgres(POSTGRES_URL, (client) =>
            client.query(`drop schema if exists ${schema} cascade`),
          ),
      });
    },
  },
];

/** Live worker processes, each with a promise of its exit. */
const children = new Map<ChildProcess, Promise<void>>();
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  const exits = [...children.entries()].map(([child, exited]) => {
    child.kill('SIGKILL');
    return exited;
  });
  await Promise.all(exits);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('crash safety', () => {
  BACKENDS.forEach((backend, backendIndex) => {
    it.skipIf(!backend.enabled)(
      `completes every run exactly once when workers are killed -9 at random points (${backend.name})`,
      async () => {
        const startedAt = performance.now();
        const random = seededRandom(SEED + backendIndex);
        const directory = mkdtempSync(join(tmpdir(), `keel-crash-${backend.name}-`));
        cleanups.push(() => rm(directory, { recursive: true, force: true }));
        const logPath = join(directory, 'side-effects.log');
        const { url, dispose } = await backend.prepare(directory);
        cleanups.push(dispose);
        const store = await openStore(url);
        cleanups.push(() => store.close());

        const runtime = createRuntime({ store, agents: createCrashAgents({ logPath }) });
        const tasks = new Map<string, string>();
        for (let index = 1; index <= RUNS; index++) {
          const record = await runtime.submit(CRASH_AGENT, crashTask(index));
          tasks.set(record.id, record.task);
        }
        const runIds = [...tasks.keys()];
        const workers: WorkerProcess[] = [];
        const load = (): WorkerProcess => {
          const worker = spawnWorker({ storeUrl: url, logPath });
          workers.push(worker);
          return worker;
        };

        // Kill workers at random instants after they start claiming. The next workers load
        // while the current one runs. Keep going (bounded) until the crash path shows.
        let kills = 0;
        const killDelays: number[] = [];
        const loading = Array.from({ length: PRELOADED_WORKERS }, load);
        const next = (): WorkerProcess => {
          loading.push(load());
          return loading.shift()!;
        };
        for (;;) {
          if (await allFinished(store, runIds)) break;
          if (kills >= KILLS) {
            const seen = summarize(await readJournals(store, runIds));
            if ((seen.reissued > 0 && seen.reclaimedRuns > 0) || kills >= MAX_KILLS) break;
          }
          const worker = next();
          await worker.start();
          const delay = Math.round(
            KILL_AFTER_MS.min + random() * (KILL_AFTER_MS.max - KILL_AFTER_MS.min),
          );
          killDelays.push(delay);
          await sleep(delay);
          await worker.kill();
          kills += 1;
        }

        // A last worker finishes whatever is left.
        const killLoopMs = performance.now() - startedAt;
        const finalWorker = loading.shift()!;
        await finalWorker.start();
        const deadline = performance.now() + FINISH_TIMEOUT_MS;
        let finished = await allFinished(store, runIds);
        while (!finished && performance.now() < deadline) {
          await sleep(100);
          finished = await allFinished(store, runIds);
        }
        await finalWorker.kill();

        const journals = await readJournals(store, runIds);
        const sideEffects = readSideEffects(logPath);
        const stats = summarize(journals);
        const replays = sideEffects.filter((line) => line.phase === 'replay').length;
        console.log(
          `crash test (${backend.name}): ${kills} kills after ${killDelays.join('/')} ms, ` +
            `${stats.claims} claims, ${stats.reclaimedRuns}/${RUNS} runs claimed more than once, ` +
            `${stats.reissued} tool calls re-issued, ${replays} re-issues found their effect done, ` +
            `${Math.round(performance.now() - startedAt)} ms (kill loop ${Math.round(killLoopMs)} ms)`,
        );

        const unfinished = await unfinishedRuns(store, runIds);
        expect(
          unfinished.map(
            (runId) =>
              `${runId} (${tasks.get(runId) ?? ''}):\n${describeJournal(journals.get(runId) ?? [])}`,
          ),
          'every run finishes',
        ).toEqual([]);

        // 1. Every run succeeded with the output its task implies.
        const outcomes = new Map<string, { status: string; output: string | null }>();
        const expected = new Map<string, { status: string; output: string | null }>();
        for (const [runId, task] of tasks) {
          const record = await store.getRun(runId);
          outcomes.set(runId, {
            status: record?.status ?? 'missing',
            output: record?.output ?? null,
          });
          expected.set(runId, { status: 'succeeded', output: expectedOutput(task) });
        }
        expect(outcomes).toEqual(expected);

        // 2. The journals: one result per call, one idempotency key per call, nothing after it.
        expect(journalViolations(journals)).toEqual([]);

        // 3. The side effects: nothing executes again once it ended or was committed.
        expect(sideEffectViolations(journals, sideEffects)).toEqual([]);

        // No worker reported an exception while executing a run.
        expect(workers.flatMap((worker) => worker.errors())).toEqual([]);

        // 4. The crash path was exercised.
        expect(stats.reclaimedRuns, 'runs claimed more than once').toBeGreaterThan(0);
        expect(stats.reissued, 'tool calls re-issued after a crash').toBeGreaterThan(0);
      },
      TEST_TIMEOUT_MS,
    );
  });
});

interface WorkerProcess {
  /** Let the loaded worker claim runs; resolves once it does. */
  start(): Promise<void>;
  /** SIGKILL, then wait for the process to be gone. */
  kill(): Promise<void>;
  /** Exceptions the worker reported (its stderr), and an exit it was not killed for. */
  errors(): string[];
}

/** Node's own warnings (deprecations, experimental features) are not the worker's errors. */
const NODE_WARNING = /^\(node:\d+\) |^\(Use `node --trace-/;

/** Start a worker process that loads, opens the store and waits for `start()`. */
function spawnWorker({ storeUrl, logPath }: { storeUrl: string; logPath: string }): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, KEEL_STORE: storeUrl, CRASH_LOG: logPath, CRASH_START: 'stdin' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { line: string; resolve(): void; reject(error: Error): void }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters.splice(0)) {
      if (stdout.includes(`${waiter.line}\n`)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin?.on('error', () => undefined);
  let exitedByItself: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (signal !== 'SIGKILL')
        exitedByItself = `worker exited by itself (${code ?? signal ?? '?'})`;
      for (const waiter of waiters.splice(0)) {
        waiter.reject(
          new Error(`worker exited (${code ?? signal ?? '?'}) before "${waiter.line}":\n${stderr}`),
        );
      }
      resolve();
    });
  });
  children.set(child, exited);
  function printed(line: string): Promise<void> {
    if (stdout.includes(`${line}\n`)) return Promise.resolve();
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(new Error(`worker exited before "${line}":\n${stderr}`));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`worker printed no "${line}" in ${WORKER_READY_TIMEOUT_MS} ms:\n${stderr}`),
        );
      }, WORKER_READY_TIMEOUT_MS);
      waiters.push({
        line,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
  return {
    async start() {
      await printed('loaded');
      child.stdin?.write('start\n');
      await printed('ready');
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    errors: () => [
      ...(exitedByItself === undefined ? [] : [exitedByItself]),
      ...stderr.split('\n').filter((line) => line.trim() !== '' && !NODE_WARNING.test(line)),
    ],
  };
}

async function unfinishedRuns(store: Store, runIds: readonly string[]): Promise<string[]> {
  const unfinished: string[] = [];
  for (const runId of runIds) {
    const record = await store.getRun(runId);
    if (!record || record.status === 'queued' || record.status === 'running')
      unfinished.push(runId);
  }
  return unfinished;
}

async function allFinished(store: Store, runIds: readonly string[]): Promise<boolean> {
  return (await unfinishedRuns(store, runIds)).length === 0;
}

async function readJournals(
  store: Store,
  runIds: readonly string[],
): Promise<Map<string, StoredEvent[]>> {
  const journals = new Map<string, StoredEvent[]>();
  for (const runId of runIds) {
    const events = await store.readEvents(runId);
    journals.set(
      runId,
      [...events].sort((a, b) => a.seq - b.seq),
    );
  }
  return journals;
}

function summarize(journals: Map<string, StoredEvent[]>): {
  claims: number;
  reclaimedRuns: number;
  reissued: number;
} {
  let claims = 0;
  let reclaimedRuns = 0;
  let reissued = 0;
  for (const events of journals.values()) {
    const runClaims = events.filter((entry) => entry.event.type === 'run_claimed').length;
    claims += runClaims;
    if (runClaims > 1) reclaimedRuns += 1;
    reissued += events.filter(
      (entry) => entry.event.type === 'tool_started' && entry.event.reissued === true,
    ).length;
  }
  return { claims, reclaimedRuns, reissued };
}

/** What the journal says about one tool call. */
interface CallRecord {
  readonly runId: string;
  readonly callId: string;
  readonly started: StoredEvent[];
  readonly finished: StoredEvent[];
  readonly failed: StoredEvent[];
}

function callsOf(runId: string, events: readonly StoredEvent[]): Map<string, CallRecord> {
  const calls = new Map<string, CallRecord>();
  for (const entry of events) {
    const event = fieldsOf(entry);
    if (typeof event.callId !== 'string') continue;
    if (event.type === 'tool_requested') {
      calls.set(event.callId, {
        runId,
        callId: event.callId,
        started: [],
        finished: [],
        failed: [],
      });
      continue;
    }
    const call = calls.get(event.callId);
    if (!call) continue;
    if (event.type === 'tool_started') call.started.push(entry);
    if (event.type === 'tool_finished') call.finished.push(entry);
    if (event.type === 'tool_failed') call.failed.push(entry);
  }
  return calls;
}

function journalViolations(journals: Map<string, StoredEvent[]>): string[] {
  const violations: string[] = [];
  for (const [runId, events] of journals) {
    const problems: string[] = [];
    events.forEach((entry, index) => {
      if (entry.seq !== index + 1) problems.push(`event #${index + 1} has seq ${entry.seq}`);
    });
    const calls = callsOf(runId, events);
    if (calls.size === 0) problems.push('no tool calls were requested');
    for (const call of calls.values()) {
      const where = `call ${call.callId}`;
      if (call.finished.length !== 1)
        problems.push(`${where}: ${call.finished.length} tool_finished events`);
      if (call.failed.length > 0)
        problems.push(`${where}: ${call.failed.length} tool_failed events`);
      if (call.started.length === 0) problems.push(`${where}: never started`);
      const keys = new Set(call.started.map((entry) => fieldsOf(entry).idempotencyKey));
      if (keys.size !== 1) problems.push(`${where}: idempotency keys ${JSON.stringify([...keys])}`);
      const finishedAt = call.finished[0]?.seq ?? Infinity;
      const late = call.started.filter((entry) => entry.seq > finishedAt);
      if (late.length > 0)
        problems.push(
          `${where}: started again after it finished (seq ${late.map((entry) => entry.seq).join(', ')})`,
        );
      const unmarked = call.started.slice(1).filter((entry) => fieldsOf(entry).reissued !== true);
      if (unmarked.length > 0)
        problems.push(
          `${where}: a later tool_started is not marked reissued (seq ${unmarked.map((entry) => entry.seq).join(', ')})`,
        );
    }
    if (problems.length > 0)
      violations.push(`${runId}: ${problems.join('; ')}\n${describeJournal(events)}`);
  }
  return violations;
}

function sideEffectViolations(
  journals: Map<string, StoredEvent[]>,
  lines: readonly SideEffectLine[],
): string[] {
  const byKey = new Map<string, { call: CallRecord; lines: (SideEffectLine & { at: number })[] }>();
  for (const [runId, events] of journals) {
    for (const call of callsOf(runId, events).values()) {
      const first = call.started[0];
      const key = first && fieldsOf(first).idempotencyKey;
      if (typeof key === 'string') byKey.set(key, { call, lines: [] });
    }
  }
  const violations: string[] = [];
  lines.forEach((line, at) => {
    const entry = byKey.get(line.key);
    if (entry) entry.lines.push({ ...line, at });
    else violations.push(`line ${at + 1}: key ${line.key} is in no journal's tool_started`);
  });
  for (const [key, { call, lines: keyLines }] of byKey) {
    const problems: string[] = [];
    const count = (phase: SideEffectLine['phase']): number =>
      keyLines.filter((line) => line.phase === phase).length;
    const reissued = call.started.filter((entry) => fieldsOf(entry).reissued === true).length;
    if (count('end') !== 1) problems.push(`${count('end')} executions ended (want exactly 1)`);
    if (count('begin') + count('replay') > 1 + reissued) {
      problems.push(
        `${count('begin')} executions and ${count('replay')} replays but only ${reissued} re-issues`,
      );
    }
    const firstEnd = keyLines.find((line) => line.phase === 'end')?.at ?? Infinity;
    if (keyLines.some((line) => line.phase === 'begin' && line.at > firstEnd))
      problems.push('executed again after an execution ended');
    const committed = keyLines.find((line) => line.phase === 'committed')?.at ?? Infinity;
    if (
      keyLines.some(
        (line) => (line.phase === 'begin' || line.phase === 'replay') && line.at > committed,
      )
    )
      problems.push('issued again after its tool_finished committed');
    if (problems.length === 0) continue;
    const history = keyLines
      .map((line) => `    line ${line.at + 1}: ${line.phase} (pid ${line.pid})`)
      .join('\n');
    const events = journals.get(call.runId) ?? [];
    violations.push(
      `${key} (${call.runId} ${call.callId}): ${problems.join('; ')}\n${history}\n${describeJournal(events)}`,
    );
  }
  return violations;
}

/** An event's fields by name, whatever its type (for checks that read any event). */
function fieldsOf(entry: StoredEvent): Readonly<Record<string, unknown>> {
  return entry.event;
}

/** One line per event, for failure messages. */
function describeJournal(events: readonly StoredEvent[]): string {
  return events
    .map((entry) => {
      const { seq } = entry;
      const event = fieldsOf(entry);
      const details = [
        typeof event.callId === 'string' ? event.callId : '',
        typeof event.idempotencyKey === 'string' ? `key=${event.idempotencyKey}` : '',
        typeof event.attempt === 'number' ? `attempt=${event.attempt}` : '',
        event.reissued === true ? 'reissued' : '',
        typeof event.workerId === 'string'
          ? `by ${event.workerId} claim ${String(event.claim)}`
          : '',
        typeof event.status === 'string' ? `${event.status} ${JSON.stringify(event.reason)}` : '',
      ].filter((detail) => detail !== '');
      return `    ${seq} ${entry.event.type} ${details.join(' ')}`.trimEnd();
    })
    .join('\n');
}

async function canConnect(url: string): Promise<boolean> {
  try {
    await withPostgres(url, (client) => client.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

async function withPostgres(
  url: string,
  work: (client: pg.Client) => Promise<unknown>,
): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
