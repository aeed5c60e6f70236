import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import {
  STORE_SCHEMA_VERSION,
  openStore,
  type NewEvent,
  type NewRun,
  type RunFinish,
  type RunRecord,
  type Store,
  type StoredEvent,
} from './index.js';

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const T0 = 1_700_000_000_000;
const execFileAsync = promisify(execFile);

const tempDirs: string[] = [];
const postgresSchemas: string[] = [];
let postgresAdmin: pg.Client | undefined;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-'));
  tempDirs.push(dir);
  return dir;
}

function newPostgresSchema(): string {
  const schema = 'keel_t_' + randomBytes(6).toString('hex');
  postgresSchemas.push(schema);
  return schema;
}

/** Runs SQL beside the stores under test, over its own connection. */
async function postgresQuery(text: string): Promise<void> {
  if (!postgresAdmin) {
    postgresAdmin = new pg.Client({ connectionString: POSTGRES_URL });
    await postgresAdmin.connect();
  }
  await postgresAdmin.query(text);
}

afterAll(async () => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const schema of postgresSchemas.splice(0)) {
    await postgresQuery(`drop schema if exists ${schema} cascade`);
  }
  await postgresAdmin?.end();
});

/** One test's empty database: the store the test works with, and how to open more on it. */
interface TestDatabase {
  readonly store: Store;
  /** Another store on the same database over its own connections (for `sqlite memory`, a new database). */
  open(): Promise<Store>;
}

interface Backend {
  readonly name: string;
  readonly kind: Store['kind'];
  /** Whether separate stores can share one database, as separate processes would. */
  readonly sharedDatabase: boolean;
  /** An empty database for the next test. The backend owns and closes `store`. */
  emptyDatabase(): Promise<TestDatabase>;
  dispose(): Promise<void>;
}

function sqliteBackend(name: string, url: () => string, sharedDatabase: boolean): Backend {
  let current: Store | undefined;
  return {
    name,
    kind: 'sqlite',
    sharedDatabase,
    async emptyDatabase() {
      await current?.close();
      const location = url();
      current = await openStore(location);
      return { store: current, open: () => openStore(location) };
    },
    async dispose() {
      await current?.close();
      current = undefined;
    },
  };
}

/** One schema for all tests (migrating a fresh schema per test is slow); emptied between tests. */
function postgresBackend(): Backend {
  let kept: { schema: string; database: TestDatabase } | undefined;
  return {
    name: 'postgres',
    kind: 'postgres',
    sharedDatabase: true,
    async emptyDatabase() {
      if (kept) {
        await postgresQuery(`delete from ${kept.schema}.keel_events`);
        await postgresQuery(`delete from ${kept.schema}.keel_runs`);
        return kept.database;
      }
      const schema = newPostgresSchema();
      const open = () => openStore(POSTGRES_URL, { postgresSchema: schema, poolSize: 4 });
      kept = { schema, database: { store: await open(), open } };
      return kept.database;
    },
    async dispose() {
      await kept?.database.store.close();
      kept = undefined;
    },
  };
}

const BACKENDS: readonly Backend[] = [
  sqliteBackend('sqlite file', () => 'sqlite:' + join(tempDir(), 'keel.db'), true),
  sqliteBackend('sqlite memory', () => 'sqlite::memory:', false),
  postgresBackend(),
];

function stepEvent(seq: number, workerId = `worker-${seq}`): NewEvent {
  return { seq, at: T0 + seq, event: { type: 'run_claimed', workerId, claim: seq } };
}

function steps(from: number, to: number): NewEvent[] {
  const events: NewEvent[] = [];
  for (let seq = from; seq <= to; seq++) events.push(stepEvent(seq));
  return events;
}

/** The event a claim commits with itself. */
function claimedEvent(seq: number, workerId: string, claim: number, at: number): NewEvent {
  return { seq, at, event: { type: 'run_claimed', workerId, claim, at } };
}

function stored(runId: string, events: readonly NewEvent[]): StoredEvent[] {
  return events.map(({ seq, at, event }) => ({
    runId,
    seq,
    at,
    schemaVersion: STORE_SCHEMA_VERSION,
    event,
  }));
}

/** The record of a run just created queued at `createdAt`, with nothing else done to it. */
function queuedRecord(
  run: Pick<NewRun, 'id' | 'agent' | 'task' | 'createdAt'>,
  changes: Partial<RunRecord> = {},
): RunRecord {
  return {
    id: run.id,
    agent: run.agent,
    task: run.task,
    status: 'queued',
    reason: null,
    output: null,
    leaseOwner: null,
    leaseUntil: 0,
    claims: 0,
    cancelRequested: false,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    steps: 0,
    createdAt: run.createdAt,
    updatedAt: run.createdAt,
    finishedAt: null,
    schemaVersion: STORE_SCHEMA_VERSION,
    version: null,
    shadowOf: null,
    ...changes,
  };
}

async function faultOf(promise: Promise<unknown>): Promise<KeelError> {
  try {
    await promise;
  } catch (error) {
    if (KeelError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a KeelError, but the call succeeded');
}

/**
 * Open a store in a child process and report the fault it rejects with (undefined if it opens),
 * or code `hung` if the child had to be killed.
 */
async function openInChildProcess(
  url: string,
): Promise<{ code: string; message: string } | undefined> {
  const script = `
    const { openStore } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
    let fault = null;
    try { await (await openStore(${JSON.stringify(url)})).close(); }
    catch (error) { fault = { code: error.code, message: error.message }; }
    process.stdout.write(JSON.stringify(fault));
  `;
  try {
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '--eval', script],
      {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        timeout: 8_000,
        killSignal: 'SIGKILL',
      },
    );
    const fault = JSON.parse(stdout) as { code: string; message: string } | null;
    return fault ?? undefined;
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'killed' in error && error.killed === true) {
      return { code: 'hung', message: `openStore(${url}) did not settle within 8 s` };
    }
    throw error;
  }
}

const FINISH: RunFinish = {
  status: 'succeeded',
  reason: { type: 'final_answer', detail: { steps: 3, notes: ['ok', null] } },
  output: 'Done: 42',
  inputTokens: 1_200,
  outputTokens: 345,
  costUsd: 0.0125,
  steps: 3,
  at: T0 + 900,
};

for (const backend of BACKENDS) {
  describe(backend.name, () => {
    let database: TestDatabase;
    let store: Store;
    const opened: Store[] = [];

    async function open(): Promise<Store> {
      const another = await database.open();
      opened.push(another);
      return another;
    }

    /** A run created queued (or already claimed with `claimBy`). */
    function createRun(
      id: string,
      {
        agent = 'writer',
        createdAt = T0,
        events = [],
        claimBy,
      }: Partial<Pick<NewRun, 'agent' | 'createdAt' | 'events' | 'claimBy'>> = {},
    ): Promise<RunRecord> {
      return store.createRun({ id, agent, task: `task of ${id}`, createdAt, events, claimBy });
    }

    beforeEach(async () => {
      database = await backend.emptyDatabase();
      store = database.store;
    });

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((each) => each.close()));
    });

    afterAll(async () => {
      await backend.dispose();
    });

    it('reports its kind', () => {
      expect(store.kind).toBe(backend.kind);
    });

    describe('createRun', () => {
      it('returns and stores a queued run when no claim is given', async () => {
        const run = { id: 'run-1', agent: 'writer', task: 'write a haiku', createdAt: T0 };
        const created = await store.createRun({ ...run, events: [] });
        expect(created).toEqual(queuedRecord(run));
        expect(await store.getRun('run-1')).toEqual(queuedRecord(run));
      });

      it('stores a running run held by the worker when claimBy is given', async () => {
        const run = { id: 'run-1', agent: 'writer', task: 'write a haiku', createdAt: T0 };
        const created = await store.createRun({
          ...run,
          events: [],
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        const expected = queuedRecord(run, {
          status: 'running',
          leaseOwner: 'worker-a',
          leaseUntil: T0 + 30_000,
          claims: 1,
        });
        expect(created).toEqual(expected);
        expect(await store.getRun('run-1')).toEqual(expected);
      });

      it('returns undefined from getRun when the run is unknown', async () => {
        expect(await store.getRun('no-such-run')).toBeUndefined();
      });

      it('stores its events, read back in seq order with the event as JSON', async () => {
        const events: NewEvent[] = [
          {
            seq: 2,
            at: T0 + 20,
            event: {
              type: 'tool_requested',
              step: 0,
              callId: 'call-1',
              index: 0,
              toolName: 'write',
              effect: 'write',
              input: {
                usage: { inputTokens: 10, outputTokens: 3 },
                parts: [{ type: 'text', text: 'héllo "world" ✓\nline 2' }, null, true, 1.5],
                empty: {},
              },
            },
          },
          { seq: 1, at: T0 + 10, event: { type: 'cancel_requested', by: 'user' } },
          {
            seq: 3,
            at: T0 + 30,
            event: { type: 'limit_hit', limit: 'cost', used: -0.25, max: 1e-9 },
          },
        ];
        await createRun('run-1', { events });
        const sorted = [...events].sort((a, b) => a.seq - b.seq);
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', sorted));
      });

      it('reads only events after afterSeq when it is given', async () => {
        await createRun('run-1', { events: steps(1, 5) });
        expect(await store.readEvents('run-1', { afterSeq: 3 })).toEqual(
          stored('run-1', steps(4, 5)),
        );
        expect(await store.readEvents('run-1', { afterSeq: 5 })).toEqual([]);
        expect(await store.readEvents('run-1', { afterSeq: 0 })).toEqual(
          stored('run-1', steps(1, 5)),
        );
      });

      it('keeps the events of each run apart', async () => {
        await createRun('run-1', { events: steps(1, 2) });
        await createRun('run-2', { events: steps(1, 3) });
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 2)));
        expect(await store.readEvents('run-2')).toEqual(stored('run-2', steps(1, 3)));
        expect(await store.readEvents('no-such-run')).toEqual([]);
      });

      it('rejects a duplicate run id with conflict and writes none of its events', async () => {
        const first = await createRun('run-1', { events: steps(1, 1) });
        const error = await faultOf(
          store.createRun({
            id: 'run-1',
            agent: 'other',
            task: 'other task',
            createdAt: T0 + 5,
            events: [stepEvent(1, 'replaced'), stepEvent(2)],
          }),
        );
        expect(error.code).toBe('conflict');
        expect(await store.getRun('run-1')).toEqual(first);
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 1)));
      });
    });

    describe('append', () => {
      it('writes the events when the lease holder appends', async () => {
        await createRun('run-1', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        await store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-a' },
          events: steps(2, 3),
        });
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 3)));
      });

      it('rejects with lease_lost and writes nothing when another worker appends', async () => {
        const before = await createRun('run-1', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        const error = await faultOf(
          store.append({
            runId: 'run-1',
            guard: { leaseOwner: 'worker-b' },
            events: steps(2, 3),
            finish: FINISH,
          }),
        );
        expect(error.code).toBe('lease_lost');
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 1)));
        expect(await store.getRun('run-1')).toEqual(before);
      });

      it('rejects a lease holder guard with lease_lost when the run is queued', async () => {
        await createRun('run-1', { events: steps(1, 1) });
        const error = await faultOf(
          store.append({ runId: 'run-1', guard: { leaseOwner: 'worker-a' }, events: steps(2, 2) }),
        );
        expect(error.code).toBe('lease_lost');
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 1)));
      });

      it('writes under the queued guard only while the run is queued', async () => {
        await createRun('run-1', { events: steps(1, 1) });
        await store.append({ runId: 'run-1', guard: { status: 'queued' }, events: steps(2, 2) });
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 2)));

        await createRun('run-2', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        const error = await faultOf(
          store.append({ runId: 'run-2', guard: { status: 'queued' }, events: steps(2, 2) }),
        );
        expect(error.code).toBe('lease_lost');
        expect(await store.readEvents('run-2')).toEqual(stored('run-2', steps(1, 1)));
      });

      it('finishes the run and clears the lease together with the final events', async () => {
        const created = await createRun('run-1', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        const runEnd: NewEvent = {
          seq: 2,
          at: T0 + 900,
          event: { type: 'cancel_requested', by: 'shutdown' },
        };
        await store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-a' },
          events: [runEnd],
          finish: FINISH,
        });
        const expected: RunRecord = {
          ...created,
          status: 'succeeded',
          reason: FINISH.reason,
          output: 'Done: 42',
          leaseOwner: null,
          leaseUntil: 0,
          inputTokens: 1_200,
          outputTokens: 345,
          costUsd: 0.0125,
          steps: 3,
          updatedAt: T0 + 900,
          finishedAt: T0 + 900,
        };
        expect(await store.getRun('run-1')).toEqual(expected);
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', [...steps(1, 1), runEnd]));
      });

      it('finishes a queued run under the queued guard', async () => {
        const created = await createRun('run-1', { events: steps(1, 1) });
        await store.append({
          runId: 'run-1',
          guard: { status: 'queued' },
          events: steps(2, 2),
          finish: { ...FINISH, status: 'cancelled', reason: { type: 'cancelled', by: 'user' } },
        });
        expect(await store.getRun('run-1')).toEqual({
          ...created,
          status: 'cancelled',
          reason: { type: 'cancelled', by: 'user' },
          output: 'Done: 42',
          inputTokens: 1_200,
          outputTokens: 345,
          costUsd: 0.0125,
          steps: 3,
          updatedAt: T0 + 900,
          finishedAt: T0 + 900,
        });
      });

      it('neither finishes the run nor writes events when the events cannot be written', async () => {
        const created = await createRun('run-1', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        // seq 1 is already taken, so the whole write must roll back.
        const error = await faultOf(
          store.append({
            runId: 'run-1',
            guard: { leaseOwner: 'worker-a' },
            events: [stepEvent(2), stepEvent(1, 'duplicate')],
            finish: FINISH,
          }),
        );
        expect(KeelError.isInstance(error)).toBe(true);
        expect(await store.getRun('run-1')).toEqual(created);
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 1)));
      });

      it('rejects with lease_lost once the run is finished', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 } });
        await store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-a' },
          events: steps(1, 1),
          finish: FINISH,
        });
        const finished = await store.getRun('run-1');
        const error = await faultOf(
          store.append({ runId: 'run-1', guard: { leaseOwner: 'worker-a' }, events: steps(2, 2) }),
        );
        expect(error.code).toBe('lease_lost');
        expect(await store.getRun('run-1')).toEqual(finished);
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 1)));
      });

      it('rejects a write queued behind the finishing write of the same run', async () => {
        await createRun('run-1', {
          events: steps(1, 1),
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        const guard = { leaseOwner: 'worker-a' };
        // Issued together, so a group commit may take both: they must still apply in order.
        const results = await Promise.allSettled([
          store.append({ runId: 'run-1', guard, events: steps(2, 2), finish: FINISH }),
          store.append({ runId: 'run-1', guard, events: steps(3, 3) }),
        ]);
        expect(results[0]?.status).toBe('fulfilled');
        const late = results[1];
        expect(late?.status === 'rejected' ? (late.reason as KeelError).code : late?.status).toBe(
          'lease_lost',
        );
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 2)));
        expect((await store.getRun('run-1'))?.status).toBe('succeeded');
      });

      it('commits 300 concurrent appends to 30 runs in order without gaps', async () => {
        const runIds = Array.from(
          { length: 30 },
          (_, index) => `run-${String(index).padStart(2, '0')}`,
        );
        for (const runId of runIds) {
          await createRun(runId, {
            events: steps(1, 1),
            claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
          });
        }
        const appends: Promise<void>[] = [];
        for (let seq = 2; seq <= 11; seq++) {
          for (const runId of runIds) {
            appends.push(
              store.append({ runId, guard: { leaseOwner: 'worker-a' }, events: [stepEvent(seq)] }),
            );
          }
        }
        expect(appends).toHaveLength(300);
        await Promise.all(appends);
        for (const runId of runIds) {
          expect(await store.readEvents(runId)).toEqual(stored(runId, steps(1, 11)));
        }
      });

      it('rejects only the write with a bad guard in a concurrent burst', async () => {
        const runIds = Array.from(
          { length: 30 },
          (_, index) => `run-${String(index).padStart(2, '0')}`,
        );
        for (const runId of runIds) {
          await createRun(runId, { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 } });
        }
        const appends: Promise<void>[] = [];
        for (let seq = 1; seq <= 10; seq++) {
          for (const runId of runIds) {
            appends.push(
              store.append({ runId, guard: { leaseOwner: 'worker-a' }, events: [stepEvent(seq)] }),
            );
          }
          if (seq === 5) {
            appends.push(
              store.append({
                runId: 'run-07',
                guard: { leaseOwner: 'worker-b' },
                events: [stepEvent(99)],
              }),
            );
          }
        }
        const results = await Promise.allSettled(appends);
        const rejected = results.flatMap((result, index) =>
          result.status === 'rejected' ? [{ index, reason: result.reason as unknown }] : [],
        );
        expect(rejected).toHaveLength(1);
        expect(rejected[0]?.index).toBe(5 * 30);
        expect(KeelError.isInstance(rejected[0]?.reason)).toBe(true);
        expect((rejected[0]?.reason as KeelError).code).toBe('lease_lost');
        for (const runId of runIds) {
          expect(await store.readEvents(runId)).toEqual(stored(runId, steps(1, 10)));
        }
      });

      it('rejects only the write that fails in the database in a concurrent burst', async () => {
        const runIds = ['run-a', 'run-b', 'run-c'];
        for (const runId of runIds) {
          await createRun(runId, {
            events: steps(1, 1),
            claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
          });
        }
        const guard = { leaseOwner: 'worker-a' };
        const results = await Promise.allSettled([
          store.append({ runId: 'run-a', guard, events: steps(2, 2) }),
          // seq 1 of run-b exists already.
          store.append({ runId: 'run-b', guard, events: [stepEvent(1, 'duplicate')] }),
          store.append({ runId: 'run-c', guard, events: steps(2, 2) }),
          store.append({ runId: 'run-a', guard, events: steps(3, 3) }),
        ]);
        expect(results.map((result) => result.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
          'fulfilled',
        ]);
        const failure = results[1];
        expect(failure?.status === 'rejected' && KeelError.isInstance(failure.reason)).toBe(true);
        expect(await store.readEvents('run-a')).toEqual(stored('run-a', steps(1, 3)));
        expect(await store.readEvents('run-b')).toEqual(stored('run-b', steps(1, 1)));
        expect(await store.readEvents('run-c')).toEqual(stored('run-c', steps(1, 2)));
      });

      it('makes pending appends durable when flush resolves', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 } });
        const pending = store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-a' },
          events: steps(1, 2),
        });
        await store.flush();
        expect(await store.readEvents('run-1')).toEqual(stored('run-1', steps(1, 2)));
        await pending;
      });

      it('rejects with store_unavailable when the store is closed', async () => {
        const closing = await open();
        await closing.createRun({
          id: 'run-1',
          agent: 'writer',
          task: 'task',
          createdAt: T0,
          events: [],
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        await closing.close();
        const error = await faultOf(
          closing.append({
            runId: 'run-1',
            guard: { leaseOwner: 'worker-a' },
            events: steps(1, 1),
          }),
        );
        expect(error.code).toBe('store_unavailable');
      });
    });

    describe('claimNext', () => {
      const claim = { workerId: 'worker-a', now: T0 + 1_000, leaseMs: 30_000 };

      it('claims the oldest queued run and holds its lease', async () => {
        await createRun('run-b', { createdAt: T0 + 2 });
        const oldest = await createRun('run-a', { createdAt: T0 + 1 });
        await createRun('run-c', { createdAt: T0 + 3 });
        const claimed = await store.claimNext(claim);
        const expected: RunRecord = {
          ...oldest,
          status: 'running',
          leaseOwner: 'worker-a',
          leaseUntil: T0 + 31_000,
          claims: 1,
          updatedAt: T0 + 1_000,
        };
        expect(claimed).toEqual(expected);
        expect(await store.getRun('run-a')).toEqual(expected);
        expect((await store.claimNext(claim))?.id).toBe('run-b');
        expect((await store.claimNext(claim))?.id).toBe('run-c');
      });

      it('returns undefined when nothing is claimable', async () => {
        expect(await store.claimNext(claim)).toBeUndefined();
        await createRun('run-held', { claimBy: { workerId: 'worker-b', leaseUntil: T0 + 60_000 } });
        await createRun('run-done', { claimBy: { workerId: 'worker-b', leaseUntil: T0 + 60_000 } });
        await store.append({
          runId: 'run-done',
          guard: { leaseOwner: 'worker-b' },
          events: [],
          finish: FINISH,
        });
        expect(await store.claimNext(claim)).toBeUndefined();
        expect(await store.claimNext({ ...claim, now: T0 + 120_000 })).toEqual(
          expect.objectContaining({ id: 'run-held' }),
        );
        expect(await store.claimNext({ ...claim, now: T0 + 120_000 })).toBeUndefined();
      });

      it('claims only runs of the given agents when agents is set', async () => {
        await createRun('run-writer', { agent: 'writer', createdAt: T0 + 1 });
        await createRun('run-reviewer', { agent: 'reviewer', createdAt: T0 + 2 });
        expect(await store.claimNext({ ...claim, agents: [] })).toBeUndefined();
        expect(await store.claimNext({ ...claim, agents: ['nobody'] })).toBeUndefined();
        expect((await store.claimNext({ ...claim, agents: ['reviewer'] }))?.id).toBe(
          'run-reviewer',
        );
        expect(await store.claimNext({ ...claim, agents: ['reviewer'] })).toBeUndefined();
        expect((await store.claimNext({ ...claim, agents: ['nobody', 'writer'] }))?.id).toBe(
          'run-writer',
        );
        expect((await store.getRun('run-writer'))?.status).toBe('running');
      });

      it('claims a running run again when its lease has expired', async () => {
        const first = await store.createRun({
          id: 'run-1',
          agent: 'writer',
          task: 'task',
          createdAt: T0,
          events: [],
        });
        await store.claimNext({ workerId: 'worker-a', now: T0 + 100, leaseMs: 1_000 });
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 1_000, leaseMs: 1_000 }),
        ).toBeUndefined();
        const reclaimed = await store.claimNext({
          workerId: 'worker-b',
          now: T0 + 1_101,
          leaseMs: 5_000,
        });
        const expected: RunRecord = {
          ...first,
          status: 'running',
          leaseOwner: 'worker-b',
          leaseUntil: T0 + 6_101,
          claims: 2,
          updatedAt: T0 + 1_101,
        };
        expect(reclaimed).toEqual(expected);
        expect(await store.getRun('run-1')).toEqual(expected);
        const error = await faultOf(
          store.append({ runId: 'run-1', guard: { leaseOwner: 'worker-a' }, events: steps(1, 1) }),
        );
        expect(error.code).toBe('lease_lost');
        // Each claim committed its `run_claimed` event with it: the holder goes on after them.
        await store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-b' },
          events: steps(3, 3),
        });
        expect(await store.readEvents('run-1')).toEqual(
          stored('run-1', [
            claimedEvent(1, 'worker-a', 1, T0 + 100),
            claimedEvent(2, 'worker-b', 2, T0 + 1_101),
            ...steps(3, 3),
          ]),
        );
      });

      it('does not claim a running run whose lease is live', async () => {
        const held = await createRun('run-1', {
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 30_000 },
        });
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 29_999, leaseMs: 1_000 }),
        ).toBeUndefined();
        expect(await store.getRun('run-1')).toEqual(held);
      });

      it.skipIf(!backend.sharedDatabase)(
        'claims every run exactly once when four stores claim concurrently',
        async () => {
          const runIds = Array.from(
            { length: 40 },
            (_, index) => `run-${String(index).padStart(2, '0')}`,
          );
          for (const [index, runId] of runIds.entries()) {
            await createRun(runId, { createdAt: T0 + index });
          }
          const workers = await Promise.all([open(), open(), open(), open()]);
          const claimedBy = await Promise.all(
            workers.map(async (worker, index) => {
              const workerId = `worker-${index}`;
              const claimed: string[] = [];
              for (;;) {
                const run = await worker.claimNext({ workerId, now: T0 + 1_000, leaseMs: 60_000 });
                if (!run) return claimed;
                expect(run.leaseOwner).toBe(workerId);
                claimed.push(run.id);
              }
            }),
          );
          const all = claimedBy.flat().sort();
          expect(all).toEqual(runIds);
          const records = await store.listRuns({ limit: 100 });
          expect(records).toHaveLength(40);
          for (const record of records) {
            const owner = claimedBy.findIndex((ids) => ids.includes(record.id));
            expect({
              id: record.id,
              status: record.status,
              claims: record.claims,
              leaseOwner: record.leaseOwner,
            }).toEqual({
              id: record.id,
              status: 'running',
              claims: 1,
              leaseOwner: `worker-${owner}`,
            });
          }
        },
      );
    });

    describe('renewLeases', () => {
      it('extends the leases the worker holds and reports the others as lost', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        await createRun('run-2', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        const other = await createRun('run-3', {
          createdAt: T0 + 3,
          claimBy: { workerId: 'worker-b', leaseUntil: T0 + 1_000 },
        });
        await createRun('run-4', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        await store.append({
          runId: 'run-4',
          guard: { leaseOwner: 'worker-a' },
          events: [],
          finish: FINISH,
        });
        const queued = await createRun('run-5', { createdAt: T0 + 5 });
        const renewal = await store.renewLeases({
          workerId: 'worker-a',
          runIds: ['run-1', 'run-2', 'run-3', 'run-4', 'run-5', 'no-such-run'],
          now: T0 + 500,
          leaseMs: 2_000,
        });
        expect({
          lost: [...renewal.lost].sort(),
          cancelRequested: renewal.cancelRequested,
        }).toEqual({
          lost: ['no-such-run', 'run-3', 'run-4', 'run-5'],
          cancelRequested: [],
        });
        expect((await store.getRun('run-1'))?.leaseUntil).toBe(T0 + 2_500);
        expect((await store.getRun('run-2'))?.leaseUntil).toBe(T0 + 2_500);
        expect(await store.getRun('run-3')).toEqual(other);
        expect(await store.getRun('run-5')).toEqual(queued);
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 2_000, leaseMs: 1_000 }),
        ).toEqual(expect.objectContaining({ id: 'run-3' }));
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 2_000, leaseMs: 1_000 }),
        ).toEqual(expect.objectContaining({ id: 'run-5' }));
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 2_000, leaseMs: 1_000 }),
        ).toBeUndefined();
      });

      it('renews 40 held runs at once, and reports the ones it no longer holds', async () => {
        const runIds = Array.from(
          { length: 40 },
          (_, index) => `run-${String(index).padStart(2, '0')}`,
        );
        for (const runId of runIds) {
          await createRun(runId, { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        }
        await store.requestCancel('run-33', T0 + 100);
        const renewal = await store.renewLeases({
          workerId: 'worker-a',
          runIds: [...runIds, 'gone-1', 'gone-2'],
          now: T0 + 500,
          leaseMs: 2_000,
        });
        expect(renewal).toEqual({ lost: ['gone-1', 'gone-2'], cancelRequested: ['run-33'] });
        for (const runId of runIds) {
          expect((await store.getRun(runId))?.leaseUntil).toBe(T0 + 2_500);
        }
      });

      it('reports a lease taken over by another worker as lost', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        await store.claimNext({ workerId: 'worker-b', now: T0 + 1_001, leaseMs: 10_000 });
        expect(
          await store.renewLeases({
            workerId: 'worker-a',
            runIds: ['run-1'],
            now: T0 + 1_002,
            leaseMs: 10_000,
          }),
        ).toEqual({ lost: ['run-1'], cancelRequested: [] });
        expect((await store.getRun('run-1'))?.leaseUntil).toBe(T0 + 11_001);
      });

      it('reports the held runs someone asked to cancel', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        await createRun('run-2', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 1_000 } });
        await store.requestCancel('run-2', T0 + 100);
        expect(
          await store.renewLeases({
            workerId: 'worker-a',
            runIds: ['run-1', 'run-2'],
            now: T0 + 500,
            leaseMs: 2_000,
          }),
        ).toEqual({ lost: [], cancelRequested: ['run-2'] });
        expect((await store.getRun('run-2'))?.leaseUntil).toBe(T0 + 2_500);
      });

      it('returns nothing when no runs are given', async () => {
        expect(
          await store.renewLeases({ workerId: 'worker-a', runIds: [], now: T0, leaseMs: 1_000 }),
        ).toEqual({ lost: [], cancelRequested: [] });
      });
    });

    describe('releaseLease', () => {
      it('makes the run claimable at once by another worker', async () => {
        const created = await createRun('run-1', {
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        const later = { workerId: 'worker-b', now: T0 + 10, leaseMs: 5_000 };
        expect(await store.claimNext(later)).toBeUndefined();
        await store.releaseLease('run-1', 'worker-a');
        const reclaimed = await store.claimNext(later);
        expect(reclaimed).toEqual({
          ...created,
          leaseOwner: 'worker-b',
          leaseUntil: T0 + 5_010,
          claims: 2,
          updatedAt: T0 + 10,
        });
        const error = await faultOf(
          store.append({ runId: 'run-1', guard: { leaseOwner: 'worker-a' }, events: steps(1, 1) }),
        );
        expect(error.code).toBe('lease_lost');
      });

      it('leaves the lease alone when the worker does not hold it', async () => {
        const held = await createRun('run-1', {
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        await store.releaseLease('run-1', 'worker-b');
        expect(await store.getRun('run-1')).toEqual(held);
        expect(
          await store.claimNext({ workerId: 'worker-b', now: T0 + 10, leaseMs: 5_000 }),
        ).toBeUndefined();
      });
    });

    describe('requestCancel', () => {
      it('flags a queued run', async () => {
        const created = await createRun('run-1');
        const expected = { ...created, cancelRequested: true, updatedAt: T0 + 50 };
        expect(await store.requestCancel('run-1', T0 + 50)).toEqual(expected);
        expect(await store.getRun('run-1')).toEqual(expected);
      });

      it('flags a running run', async () => {
        const created = await createRun('run-1', {
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        const expected = { ...created, cancelRequested: true, updatedAt: T0 + 50 };
        expect(await store.requestCancel('run-1', T0 + 50)).toEqual(expected);
        expect(await store.getRun('run-1')).toEqual(expected);
      });

      it('returns undefined when the run is unknown', async () => {
        expect(await store.requestCancel('no-such-run', T0)).toBeUndefined();
      });

      it('leaves a finished run unchanged', async () => {
        await createRun('run-1', { claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 } });
        await store.append({
          runId: 'run-1',
          guard: { leaseOwner: 'worker-a' },
          events: [],
          finish: FINISH,
        });
        const finished = await store.getRun('run-1');
        expect(finished?.status).toBe('succeeded');
        expect(await store.requestCancel('run-1', T0 + 5_000)).toEqual(finished);
        expect(await store.getRun('run-1')).toEqual(finished);
      });
    });

    describe('listRuns', () => {
      beforeEach(async () => {
        await createRun('run-1', { agent: 'writer', createdAt: T0 + 1 });
        await createRun('run-2', {
          agent: 'reviewer',
          createdAt: T0 + 2,
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        await createRun('run-3', {
          agent: 'writer',
          createdAt: T0 + 3,
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        await createRun('run-4', { agent: 'writer', createdAt: T0 + 4 });
        await createRun('run-5', {
          agent: 'reviewer',
          createdAt: T0 + 5,
          claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
        });
        await store.append({
          runId: 'run-5',
          guard: { leaseOwner: 'worker-a' },
          events: [],
          finish: { ...FINISH, status: 'failed' },
        });
      });

      const ids = (runs: readonly RunRecord[]) => runs.map((run) => run.id);

      it('lists every run newest first', async () => {
        const runs = await store.listRuns();
        expect(ids(runs)).toEqual(['run-5', 'run-4', 'run-3', 'run-2', 'run-1']);
        expect(runs[1]).toEqual(await store.getRun('run-4'));
      });

      it('returns at most limit runs', async () => {
        expect(ids(await store.listRuns({ limit: 2 }))).toEqual(['run-5', 'run-4']);
      });

      it('returns only runs with the given statuses', async () => {
        expect(ids(await store.listRuns({ statuses: ['running'] }))).toEqual(['run-3', 'run-2']);
        expect(ids(await store.listRuns({ statuses: ['queued', 'failed'] }))).toEqual([
          'run-5',
          'run-4',
          'run-1',
        ]);
        expect(await store.listRuns({ statuses: ['cancelled'] })).toEqual([]);
      });

      it('returns only runs of the given agent', async () => {
        expect(ids(await store.listRuns({ agent: 'reviewer' }))).toEqual(['run-5', 'run-2']);
        expect(
          ids(await store.listRuns({ agent: 'writer', statuses: ['queued'], limit: 1 })),
        ).toEqual(['run-4']);
        expect(await store.listRuns({ agent: 'nobody' })).toEqual([]);
      });
    });
  });
}

describe('openStore', () => {
  it('rejects a file that is not a database with store_corrupt', async () => {
    const path = join(tempDir(), 'garbage.db');
    writeFileSync(path, Buffer.alloc(8_192, 'not a sqlite database, just bytes. '));
    const error = await faultOf(openStore('sqlite:' + path));
    expect(error.code).toBe('store_corrupt');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(path);
  });

  it('rejects a path that cannot be created with store_unavailable', async () => {
    // In a child process: should openStore hang here, it must fail this test, not stall the run.
    const fault = await openInChildProcess('sqlite:/proc/keel-nope/x.db');
    expect(fault?.code).toBe('store_unavailable');
    expect(fault?.message).not.toContain('\n');
    expect(fault?.message).toContain('/proc/keel-nope/x.db');
  });

  it('rejects an unreachable PostgreSQL server with store_unavailable within seconds', async () => {
    const started = Date.now();
    const error = await faultOf(openStore('postgres://postgres@127.0.0.1:1/test'));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe('store_unavailable');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain('127.0.0.1:1/test');
  });

  it('rejects a PostgreSQL database that does not exist with store_unavailable', async () => {
    const url = new URL(POSTGRES_URL);
    url.pathname = '/keel_no_such_db';
    const error = await faultOf(openStore(url.toString()));
    expect(error.code).toBe('store_unavailable');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain(`${url.host}/keel_no_such_db`);
  });

  it('rejects an unsupported URL with invalid_config', async () => {
    const error = await faultOf(openStore('mysql://x'));
    expect(error.code).toBe('invalid_config');
    expect(error.message).not.toContain('\n');
    expect(error.message).toContain('mysql://x');
  });

  it('opens a fresh PostgreSQL schema when another schema already holds Keel tables', async () => {
    const first = 'keel_t_' + randomBytes(6).toString('hex');
    const second = 'keel_t_' + randomBytes(6).toString('hex');
    postgresSchemas.push(first, second);
    await (await openStore(POSTGRES_URL, { postgresSchema: first })).close();
    const store = await openStore(POSTGRES_URL, { postgresSchema: second });
    try {
      await store.createRun({
        id: 'run-1',
        agent: 'writer',
        task: 'task',
        createdAt: T0,
        events: [],
      });
      expect((await store.getRun('run-1'))?.status).toBe('queued');
    } finally {
      await store.close();
    }
  });

  it('gives a location without credentials', async () => {
    const schema = 'keel_t_' + randomBytes(6).toString('hex');
    postgresSchemas.push(schema);
    const url = new URL(POSTGRES_URL);
    url.password = 's3cret-pw';
    const store = await openStore(url.toString(), { postgresSchema: schema });
    try {
      expect(store.kind).toBe('postgres');
      expect(store.location).not.toContain('s3cret-pw');
      expect(store.location).toContain(`${url.host}${url.pathname}`);
    } finally {
      await store.close();
    }
  });

  it('keeps runs and events across a close and reopen of a sqlite file', async () => {
    const path = join(tempDir(), 'nested', 'keel.db');
    const first = await openStore('sqlite:' + path);
    let finished: RunRecord | undefined;
    let claimed: RunRecord | undefined;
    try {
      expect(first.location).toBe(path);
      await first.createRun({
        id: 'run-done',
        agent: 'writer',
        task: 'task',
        createdAt: T0,
        events: steps(1, 1),
        claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
      });
      await first.append({
        runId: 'run-done',
        guard: { leaseOwner: 'worker-a' },
        events: steps(2, 4),
        finish: FINISH,
      });
      await first.createRun({
        id: 'run-open',
        agent: 'writer',
        task: 'task',
        createdAt: T0 + 1,
        events: steps(1, 2),
      });
      claimed = await first.claimNext({ workerId: 'worker-b', now: T0 + 10, leaseMs: 60_000 });
      finished = await first.getRun('run-done');
    } finally {
      await first.close();
    }
    const second = await openStore('sqlite:' + path);
    try {
      expect(await second.getRun('run-done')).toEqual(finished);
      expect(await second.getRun('run-open')).toEqual(claimed);
      expect(claimed?.leaseOwner).toBe('worker-b');
      expect(await second.readEvents('run-done')).toEqual(stored('run-done', steps(1, 4)));
      const open = [...steps(1, 2), claimedEvent(3, 'worker-b', 1, T0 + 10)];
      expect(await second.readEvents('run-open')).toEqual(stored('run-open', open));
      await second.append({
        runId: 'run-open',
        guard: { leaseOwner: 'worker-b' },
        events: steps(4, 4),
      });
    } finally {
      await second.close();
    }
    const third = await openStore('sqlite:' + path);
    try {
      expect(await third.readEvents('run-open')).toEqual(
        stored('run-open', [
          ...steps(1, 2),
          claimedEvent(3, 'worker-b', 1, T0 + 10),
          ...steps(4, 4),
        ]),
      );
    } finally {
      await third.close();
    }
  });
});
