import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import SqliteDatabase from 'libsql';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import type { Database } from './schema.js';
import { keelMigrator } from './sql-store.js';
import type { SqliteHandle } from './sqlite-handle.js';
import { createFromSchema, migratedWithMigrator } from './sqlite-new-store.js';
import { SQLITE_SCHEMA } from './sqlite-schema.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function scratchFile(): string {
  const directory = mkdtempSync(join(tmpdir(), 'keel-new-store-'));
  directories.push(directory);
  return join(directory, 'keel.db');
}

interface MasterRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** Everything a SQLite file's schema is made of, and the migration bookkeeping beside it. */
function describeFile(file: string) {
  const database = new SqliteDatabase(file);
  try {
    const rows = database
      .prepare('select type, name, tbl_name, sql from sqlite_master order by rowid')
      .all() as MasterRow[];
    return {
      master: rows.map(({ type, name, tbl_name, sql }) => ({ type, name, tbl_name, sql })),
      migrations: (
        database.prepare('select name from keel_migration order by name').all() as {
          name: string;
        }[]
      ).map((row) => row.name),
      lock: database.prepare('select id, is_locked from keel_migration_lock').all(),
      ftsConfig: [
        database.prepare('select k, v from keel_runs_fts_config').all(),
        database.prepare('select k, v from keel_context_results_fts_config').all(),
      ],
    };
  } finally {
    database.close();
  }
}

async function migrateOneByOne(file: string): Promise<void> {
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(file) }),
  });
  try {
    const { error } = await keelMigrator(db, 'sqlite').migrateToLatest();
    expect(error).toBeUndefined();
  } finally {
    await db.destroy();
  }
}

function handleOn(database: InstanceType<typeof SqliteDatabase>): SqliteHandle {
  return {
    close: () => database.close(),
    prepare: (sql) => database.prepare(sql),
    exec: (sql) => {
      database.exec(sql);
    },
  };
}

describe('a new SQLite store', () => {
  it('is written from the statements the migrations make today (else: npm run sqlite-schema)', async () => {
    expect(await migratedWithMigrator()).toEqual({
      migrations: [...SQLITE_SCHEMA.migrations],
      statements: [...SQLITE_SCHEMA.statements],
    });
  });

  it('has the schema the migrations make one by one', async () => {
    const migrated = scratchFile();
    await migrateOneByOne(migrated);
    const created = scratchFile();
    await (await openStore(`sqlite:${created}`)).close();
    const expected = describeFile(migrated);
    const actual = describeFile(created);
    expect(actual.master.length).toBeGreaterThan(40);
    expect(actual).toEqual(expected);
  });

  it('is made in one commit, with every migration recorded as run at once', async () => {
    const file = scratchFile();
    await (await openStore(`sqlite:${file}`)).close();
    const database = new SqliteDatabase(file);
    const stamps = database.prepare('select distinct timestamp from keel_migration').all();
    database.close();
    // The migrator stamps each migration as it runs it; the schema script stamps them together.
    expect(stamps).toHaveLength(1);
    // And the store opens again as current, and works.
    const store = await openStore(`sqlite:${file}`);
    try {
      await store.createRun({ id: 'run_1', agent: 'a', task: 't', createdAt: 1, events: [] });
      expect((await store.getRun('run_1'))?.status).toBe('queued');
    } finally {
      await store.close();
    }
  });

  it('leaves a database that holds anything already to the migrator', async () => {
    const file = scratchFile();
    const database = new SqliteDatabase(file);
    database.exec('create table theirs (id integer primary key)');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
    try {
      expect(await createFromSchema(db, handleOn(database))).toBe(false);
      expect(database.prepare("select name from sqlite_master where type = 'table'").all()).toEqual(
        [expect.objectContaining({ name: 'theirs' })],
      );
    } finally {
      await db.destroy();
    }
    // Opened as a store, it is migrated one migration at a time beside the table it holds.
    await (await openStore(`sqlite:${file}`)).close();
    const { migrations, master } = describeFile(file);
    expect(migrations).toEqual([...SQLITE_SCHEMA.migrations]);
    expect(master.map((row) => row.name)).toContain('theirs');
  });

  it('writes nothing when the schema script fails part-way', async () => {
    const file = scratchFile();
    const database = new SqliteDatabase(file);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
    const handle = handleOn(database);
    const failing: SqliteHandle = {
      ...handle,
      prepare: (sql) => {
        if (sql.startsWith('insert into keel_migration_lock')) throw new Error('disk I/O error');
        return handle.prepare(sql);
      },
    };
    try {
      await expect(createFromSchema(db, failing)).rejects.toThrow('disk I/O error');
      expect(database.prepare('select count(*) as n from sqlite_master').get()).toMatchObject({
        n: 0,
      });
      // Nothing half-made is left: the next attempt makes the whole schema.
      expect(await createFromSchema(db, handle)).toBe(true);
    } finally {
      await db.destroy();
    }
  });
});
