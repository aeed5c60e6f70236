import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { selectGuardRows } from './hot-statements.js';
import { POSTGRES_URL, storeLocations } from './__tests__/store-locations.js';

const T0 = 1_700_000_000_000;
const locations = storeLocations();
afterAll(() => locations.cleanup());

/** Resolves once `pid` waits on a row lock (polled, not timed). */
async function untilWaiting(client: pg.Client, pid: number): Promise<void> {
  for (;;) {
    const { rows } = await client.query<{ waiting: boolean }>(
      "select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = $1",
      [pid],
    );
    if (rows[0]?.waiting === true) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once some session runs an `update` of `schema`'s runs that waits on a lock. */
async function untilUpdateWaits(client: pg.Client, schema: string): Promise<void> {
  for (;;) {
    const { rows } = await client.query(
      "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'update %keel_runs%' and pid in (select pid from pg_locks where relation = $1::regclass)",
      [`${schema}.keel_runs`],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The runs of `ids` some other session holds a row lock on (probed with `nowait`). */
async function lockedRuns(probe: pg.Client, ids: readonly string[]): Promise<string[]> {
  const locked: string[] = [];
  for (const id of ids) {
    try {
      await probe.query('select id from keel_runs where id = $1 for update nowait', [id]);
    } catch (error) {
      if ((error as { code?: string }).code !== '55P03') throw error;
      locked.push(id);
    }
  }
  return locked;
}

/*
 * A journal write's guard read and a worker's lease heartbeat both lock runs' rows. Each in
 * its plan's order (a scan's, an index's), they deadlocked under load: one of them failed after
 * PostgreSQL's deadlock timeout, and the worker's writes stalled meanwhile. Both lock in id
 * order now. Shown here without timing: one run in the middle is held elsewhere, so each
 * statement stops there, holding exactly the runs it took before it.
 */
describe('PostgreSQL row lock order', () => {
  const ids = Array.from({ length: 40 }, (_, index) => `run-${String(index).padStart(2, '0')}`);
  const below = ids.slice(0, 20);

  async function setUp() {
    const url = locations.postgres('keel_lock_order');
    const schema = new URL(url).searchParams.get('schema') ?? '';
    const store = await openStore(url);
    // Stored in an order unlike their ids', and created in the reverse of it, so neither a
    // scan's order nor an index's by time is the ids'.
    const stored = ids.map((id, index) => ids[(index * 17) % ids.length] ?? id);
    for (const id of stored) {
      await store.createRun({
        id,
        agent: 'agent',
        task: 'task',
        createdAt: T0 - ids.indexOf(id),
        events: [],
        claimBy: { workerId: 'worker-a', leaseUntil: T0 + 60_000 },
      });
    }
    const clients: pg.Client[] = [];
    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`set search_path to ${schema}`);
      clients.push(client);
      return client;
    };
    const holder = await connect();
    await holder.query('begin');
    await holder.query("select id from keel_runs where id = 'run-20' for update");
    return {
      store,
      stored,
      holder,
      observer: await connect(),
      probe: await connect(),
      connect,
      async tearDown() {
        for (const client of clients) {
          await client.query('rollback').catch(() => undefined);
          await client.end();
        }
        await store.close();
      },
    };
  }

  it("a journal write's guard read locks the runs in id order", async () => {
    const { stored, holder, observer, probe, connect, tearDown } = await setUp();
    try {
      const writer = await connect();
      await writer.query('begin');
      const [guard] = selectGuardRows('postgres', [...stored].reverse());
      if (!guard) throw new Error('no guard read');
      const guardRead = writer.query(guard.sql, [...guard.parameters]);
      await untilWaiting(observer, (writer as unknown as { processID: number }).processID);
      expect(await lockedRuns(probe, ids)).toEqual([...below, 'run-20']);
      await holder.query('commit');
      expect((await guardRead).rows).toHaveLength(40);
    } finally {
      await tearDown();
    }
  });

  it('a lease heartbeat locks the runs in id order, and renews them all', async () => {
    const { store, stored, holder, observer, probe, tearDown } = await setUp();
    try {
      const renewal = store.renewLeases({
        workerId: 'worker-a',
        runIds: stored,
        now: T0 + 1_000,
        leaseMs: 60_000,
      });
      const schema = (await observer.query<{ schema: string }>('select current_schema() as schema'))
        .rows[0]?.schema;
      await untilUpdateWaits(observer, schema ?? '');
      expect(await lockedRuns(probe, ids)).toEqual([...below, 'run-20']);
      await holder.query('commit');
      expect(await renewal).toEqual({ lost: [], cancelRequested: [] });
      expect((await store.getRun('run-39'))?.leaseUntil).toBe(T0 + 61_000);
    } finally {
      await tearDown();
    }
  });
});
