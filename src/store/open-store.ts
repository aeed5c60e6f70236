import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { KeelError } from '../core/index.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';
import { storeFault } from './store-errors.js';
import type { Store } from './store.js';

export const DEFAULT_STORE_URL = 'sqlite:.keel/keel.db';

export interface OpenStoreOptions {
  /**
   * SQLite durability. `full` (default) fsyncs every commit; `normal` survives a process
   * crash but may lose the last commits on power loss.
   */
  readonly sqliteSync?: 'full' | 'normal';
  /** PostgreSQL schema to use (created if missing). Also settable as `?schema=` in the URL. */
  readonly postgresSchema?: string;
  /** PostgreSQL pool size. */
  readonly poolSize?: number;
}

/**
 * Open (and migrate) a store from a URL: `sqlite:<path>` (the embedded default,
 * `sqlite::memory:` for a throwaway one) or `postgres://user@host:port/db[?schema=name]`.
 * Errors are `KeelError`s with one-line messages: `invalid_config`, `store_unavailable`,
 * `store_corrupt`.
 *
 * ```ts
 * const store = await openStore(process.env.KEEL_STORE ?? DEFAULT_STORE_URL);
 * ```
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    return openPostgres(url, options);
  throw new KeelError(
    'invalid_config',
    `unsupported store URL "${url}": use sqlite:<path> or postgres://user@host:port/database`,
  );
}

async function openSqlite(
  rawPath: string,
  { sqliteSync = 'full' }: OpenStoreOptions,
): Promise<SqlStore> {
  const path = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
  if (path === '')
    throw new KeelError(
      'invalid_config',
      'the sqlite: store URL needs a path, e.g. sqlite:.keel/keel.db',
    );
  const memory = path === ':memory:';
  const location = memory ? 'sqlite::memory:' : resolve(path);
  const { default: Database } = await import('libsql');
  let database: InstanceType<typeof Database>;
  try {
    if (!memory) mkdirSync(dirname(location), { recursive: true });
    database = new Database(memory ? ':memory:' : location, { timeout: 10_000 });
    database.exec('pragma busy_timeout = 10000');
    if (!memory) database.exec('pragma journal_mode = wal');
    database.exec(`pragma synchronous = ${sqliteSync === 'full' ? 'full' : 'normal'}`);
    database.prepare('select count(*) from sqlite_master').all();
  } catch (error) {
    throw storeFault(error, location);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  const store = new SqlStore({ kind: 'sqlite', location, db });
  await store.migrate();
  return store;
}

async function openPostgres(
  url: string,
  { postgresSchema, poolSize = 10 }: OpenStoreOptions,
): Promise<SqlStore> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeelError('invalid_config', `"${url}" is not a valid PostgreSQL URL`);
  }
  const schema = postgresSchema ?? parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new KeelError(
      'invalid_config',
      `PostgreSQL schema "${schema}" must be lowercase letters, digits and _`,
    );
  }
  const location = `postgres://${parsed.host}${parsed.pathname}${schema ? `?schema=${schema}` : ''}`;
  const { default: pg } = await import('pg');
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
      // int8 (bigint) as a number: Keel keeps epoch milliseconds and counters there.
      if (oid === 20) return (value: string) => Number(value);
      const builtin = pg.types.getTypeParser as (
        oid: number,
        format?: 'text' | 'binary',
      ) => (value: string) => unknown;
      return builtin(oid, format);
    },
  };
  const config = {
    connectionString: parsed.toString(),
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    types,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  try {
    if (schema) {
      const client = new pg.Client({
        connectionString: parsed.toString(),
        connectionTimeoutMillis: 5_000,
      });
      await client.connect();
      try {
        await client.query(`create schema if not exists ${schema}`);
      } finally {
        await client.end();
      }
    }
  } catch (error) {
    throw storeFault(error, location);
  }
  const pool = new pg.Pool(config);
  pool.on('error', () => {
    // An idle client lost its connection; the next query reports it with context.
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store = new SqlStore({ kind: 'postgres', location, db, schema });
  try {
    await store.migrate();
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  return store;
}
