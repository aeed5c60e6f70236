import { Kysely, SqliteDialect } from 'kysely';
import { MIGRATION_NAMES, type Database } from './schema.js';
import { sqliteDriver } from './sqlite-driver.js';
import type { SqliteHandle } from './sqlite-handle.js';
import { SQLITE_SCHEMA } from './sqlite-schema.js';

/**
 * A new SQLite store gets the schema every migration together makes, in one commit, instead of
 * running the migrations one by one (~25 ms of a cold start): the statements are what
 * `sqlite_master` holds after the migrations ran (`scripts/sqlite-schema.ts` writes them, a
 * test checks both paths give the same schema), and the bookkeeping lists every migration as
 * run. Only for a database with nothing in it, and only while the statements were made from
 * exactly this version's migrations; anything else is left to the migrator.
 *
 * Resolves to whether the schema was created here.
 */
export async function createFromSchema(
  db: Kysely<Database>,
  handle: SqliteHandle,
  now: () => Date = () => new Date(),
): Promise<boolean> {
  if (!sameNames(SQLITE_SCHEMA.migrations, MIGRATION_NAMES)) return false;
  // Kysely's connection is held while the handle is used, so nothing else runs in between.
  return db.connection().execute(() => {
    handle.exec('begin immediate');
    try {
      // Another process may have made it meanwhile: the write lock is ours now, so look again.
      const [row] = handle.prepare('select count(*) as n from sqlite_master').all([]) as {
        n: number;
      }[];
      if (row?.n !== 0) {
        handle.exec('rollback');
        return Promise.resolve(false);
      }
      handle.exec(SQLITE_SCHEMA.statements.join(';\n'));
      const at = now().toISOString();
      const insert = handle.prepare('insert into keel_migration (name, timestamp) values (?, ?)');
      for (const name of SQLITE_SCHEMA.migrations) insert.run([name, at]);
      handle
        .prepare('insert into keel_migration_lock (id, is_locked) values (?, ?)')
        .run(['migration_lock', 0]);
      handle.exec('commit');
      return Promise.resolve(true);
    } catch (error) {
      try {
        handle.exec('rollback');
      } catch {
        // Nothing was begun, or SQLite rolled back already.
      }
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/**
 * What a SQLite store's schema is: every statement `sqlite_master` keeps, in the order they
 * were made, without the tables SQLite makes for a virtual table itself; and the migrations run.
 */
export function dumpSchema(handle: SqliteHandle): {
  migrations: string[];
  statements: string[];
} {
  const shadows = new Set(
    (
      handle.prepare("select name from pragma_table_list where type = 'shadow'").all([]) as {
        name: string;
      }[]
    ).map((row) => row.name),
  );
  const entries = handle
    .prepare('select name, sql from sqlite_master where sql is not null order by rowid')
    .all([]) as { name: string; sql: string }[];
  const migrations = handle.prepare('select name from keel_migration order by name').all([]) as {
    name: string;
  }[];
  return {
    migrations: migrations.map((row) => row.name),
    statements: entries.filter((entry) => !shadows.has(entry.name)).map((entry) => entry.sql),
  };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((name) => set.has(name));
}

/**
 * The schema the migrator makes on a new in-memory database, one migration at a time: what
 * `createFromSchema` must reproduce (the generator and its test use it).
 */
export async function migratedWithMigrator(): Promise<ReturnType<typeof dumpSchema>> {
  const { keelMigrator } = await import('./sql-store.js');
  const SqliteDatabase = sqliteDriver();
  const database = new SqliteDatabase(':memory:');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  try {
    const { error } = await keelMigrator(db, 'sqlite').migrateToLatest();
    if (error instanceof Error) throw error;
    if (error !== undefined) throw new Error('the migrations failed');
    return dumpSchema(database);
  } finally {
    await db.destroy();
  }
}
