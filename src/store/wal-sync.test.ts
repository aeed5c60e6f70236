import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore } from './open-store.js';
import { sqliteDriver } from './sqlite-driver.js';
import { withStatementCache } from './statement-cache.js';
import { DurableSqliteDialect, WalSync } from './wal-sync.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function scratchFile(): string {
  const directory = mkdtempSync(join(tmpdir(), 'keel-wal-sync-'));
  directories.push(directory);
  return join(directory, 'keel.db');
}

interface Table {
  t: { n: number };
}

/** A WAL connection under Kysely with a `WalSync`, as `openStore` makes one for `full`. */
function durableDatabase(file: string): { db: Kysely<Table>; sync: WalSync } {
  const SqliteDatabase = sqliteDriver();
  const database = new SqliteDatabase(file);
  database.exec('pragma journal_mode = wal');
  database.exec('pragma synchronous = normal');
  const sync = new WalSync(file);
  const dialect = new DurableSqliteDialect(
    withStatementCache(database),
    () => database.inTransaction,
    sync,
  );
  return { db: new Kysely<Table>({ dialect }), sync };
}

describe('WalSync', () => {
  it('reports a write only after a sync of the WAL, and lets reads go without one', async () => {
    const { db, sync } = durableDatabase(scratchFile());
    try {
      await sql`create table t (n integer)`.execute(db);
      const afterCreate = sync.syncs;
      expect(afterCreate).toBe(1);

      await db.insertInto('t').values({ n: 1 }).execute();
      expect(sync.syncs).toBe(afterCreate + 1);

      await db.selectFrom('t').selectAll().execute();
      await sql`select count(*) from t`.execute(db);
      expect(sync.syncs).toBe(afterCreate + 1);

      // A transaction is synced once, at its commit, not at each statement.
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ n: 2 }).execute();
        await trx.insertInto('t').values({ n: 3 }).execute();
        expect(sync.syncs).toBe(afterCreate + 1);
      });
      expect(sync.syncs).toBe(afterCreate + 2);
    } finally {
      await db.destroy();
    }
  });

  it('shares one sync among the commits made while another runs', async () => {
    const { db, sync } = durableDatabase(scratchFile());
    try {
      await sql`create table t (n integer)`.execute(db);
      const before = sync.syncs;
      await Promise.all(
        Array.from({ length: 20 }, (_, n) => db.insertInto('t').values({ n }).execute()),
      );
      const rows = await db.selectFrom('t').selectAll().execute();
      expect(rows).toHaveLength(20);
      // Every commit waited for a sync that started after it, and they were fewer than 20.
      expect(sync.syncs).toBeGreaterThan(before);
      expect(sync.syncs - before).toBeLessThan(20);
    } finally {
      await db.destroy();
    }
  });

  it('fails every commit after a sync fails, one line naming the store', async () => {
    const file = scratchFile();
    // No WAL file beside this path: opening it for the sync fails.
    const sync = new WalSync(`${file}.missing`);
    sync.noteCommit();
    const error: unknown = await sync.durable().catch((caught: unknown) => caught);
    expect(KeelError.isInstance(error) && error.code).toBe('store_unavailable');
    expect((error as Error).message).toMatch(
      /^the SQLite store at .*keel\.db\.missing could not sync .*keel\.db\.missing-wal to disk \(.*ENOENT.*\): .*takes no more writes; reopen it$/,
    );
    sync.noteCommit();
    await expect(sync.durable()).rejects.toThrow(/takes no more writes/);
    expect(existsSync(`${file}.missing-wal`)).toBe(false);
  });

  it('resolves at once when every commit is already synced', async () => {
    const sync = new WalSync(join(tmpdir(), 'never-written.db'));
    await expect(sync.durable()).resolves.toBeUndefined();
    expect(sync.syncs).toBe(0);
  });
});

describe('a SQLite file store opened with full durability', () => {
  it('writes through its WAL sync on the journal path and the query-builder path', async () => {
    const file = scratchFile();
    const store = await openStore(`sqlite:${file}`);
    try {
      const SqliteDatabase = sqliteDriver();
      const probe = new SqliteDatabase(file);
      try {
        expect(probe.prepare('pragma journal_mode').all([])).toEqual([{ journal_mode: 'wal' }]);
      } finally {
        probe.close();
      }
      const run = await store.createRun({
        id: 'run_1',
        agent: 'a',
        task: 't',
        createdAt: 1,
        events: [],
      });
      expect(run.status).toBe('queued');
      expect(existsSync(`${file}-wal`)).toBe(true);
      // A statement through the query builder (an autocommit update), then a read.
      await store.requestCancel('run_1', 2);
      expect((await store.getRun('run_1'))?.cancelRequested).toBe(true);
    } finally {
      await store.close();
    }
  });
});
