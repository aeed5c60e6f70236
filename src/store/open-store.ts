import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { KeelError, sleep, timerDelay } from '../core/index.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';
import { sqliteDriver } from './sqlite-driver.js';
import { sqliteHandle, type SqliteHandle } from './sqlite-handle.js';
import { withStatementCache } from './statement-cache.js';
import { isPassingStoreFault, storeFault } from './store-errors.js';
import type { Store } from './store.js';

/** Where Keel keeps its store when no URL is given: one SQLite file under `.keel/`. */
export const DEFAULT_STORE_URL = 'sqlite:.keel/keel.db';

/** SQLite durability, the PostgreSQL schema and pool size. */
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
  /**
   * For commands that only read: a SQLite file must already exist (nothing is created) and is
   * not migrated — a store that needs migrating is an error saying so — so a read-only file or
   * directory can be read. PostgreSQL stores open as usual.
   */
  readonly readOnly?: boolean;
  /**
   * The audit log's HMAC key (default: the `KEEL_AUDIT_KEY` environment variable). With a key,
   * each audit row's hash is an HMAC-SHA256 and checkpoints are signed, so nobody without the
   * key can edit and re-hash the chain or forge a checkpoint. Without one it is a plain SHA-256
   * chain. Keep the key outside the store.
   */
  readonly auditKey?: string | undefined;
  /**
   * PostgreSQL: how long to keep trying, with backoff, while the server refuses connections or
   * is starting up (a restart), before giving up with `store_unavailable`. Default 0: fail at
   * once. Faults that waiting cannot cure (a wrong password, a missing database) fail at once.
   * `keel worker` waits 60 s by default (`--wait-for-store`). SQLite has no server to wait for
   * (a locked file is waited on for 10 s either way).
   */
  readonly waitMs?: number;
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
  const { waitMs = 0 } = options;
  if (!Number.isFinite(waitMs) || waitMs < 0)
    throw new KeelError('invalid_config', `waitMs must be 0 or more milliseconds, got ${waitMs}`);
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length), options);
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    return openPostgres(url, options);
  throw new KeelError(
    'invalid_config',
    `unsupported store URL "${url}": use sqlite:<path> or postgres://user@host:port/database`,
  );
}

/** One handle per SQLite file per process: two handles would block each other's locks. */
const openFiles = new Map<string, { db: Promise<SqliteConnection>; refs: number }>();

interface SqliteConnection {
  readonly db: Kysely<Database>;
  readonly handle: SqliteHandle;
}

async function openSqlite(
  rawPath: string,
  { sqliteSync = 'full', readOnly = false, auditKey = envAuditKey() }: OpenStoreOptions,
): Promise<SqlStore> {
  const path = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
  if (path === '') {
    throw new KeelError(
      'invalid_config',
      'the sqlite: store URL needs a path, e.g. sqlite:.keel/keel.db',
    );
  }
  const memory = path === ':memory:';
  const location = memory ? 'sqlite::memory:' : resolve(path);
  if (memory) {
    const { db, handle } = openSqliteHandle(':memory:', location, sqliteSync);
    const store = new SqlStore({
      kind: 'sqlite',
      location,
      db,
      sqlite: handle,
      onClose: () => db.destroy(),
      auditKey,
    });
    await store.migrate();
    return store;
  }
  if (readOnly && !existsSync(location)) {
    throw new KeelError(
      'not_found',
      `no store at ${location}: nothing has been run there (check --store or KEEL_STORE)`,
    );
  }
  let shared = openFiles.get(location);
  if (!shared) {
    // A failure to open is the shared promise's rejection, seen by everyone waiting on it.
    const opening = new Promise<SqliteConnection>((resolve) => {
      resolve(openSqliteHandle(location, location, sqliteSync, readOnly));
    });
    shared = { db: opening, refs: 0 };
    openFiles.set(location, shared);
    shared.db.catch(() => openFiles.delete(location));
  }
  shared.refs += 1;
  const entry = shared;
  async function release(): Promise<void> {
    entry.refs -= 1;
    if (entry.refs > 0) return;
    openFiles.delete(location);
    await (await entry.db).db.destroy();
  }
  let connection: SqliteConnection;
  try {
    connection = await entry.db;
  } catch (error) {
    entry.refs -= 1;
    throw error;
  }
  const store = new SqlStore({
    kind: 'sqlite',
    location,
    db: connection.db,
    sqlite: connection.handle,
    onClose: release,
    auditKey,
  });
  try {
    if (readOnly) await store.requireMigrated();
    else await store.migrate();
  } catch (error) {
    await release();
    throw error;
  }
  return store;
}

function openSqliteHandle(
  file: string,
  location: string,
  sqliteSync: 'full' | 'normal',
  readOnly = false,
): SqliteConnection {
  const SqliteDatabase = sqliteDriver();
  try {
    if (file !== ':memory:' && !readOnly) makeDirectories(dirname(file));
    const database = new SqliteDatabase(file, { timeout: 10_000 });
    database.exec('pragma busy_timeout = 10000');
    // A reader leaves the journal mode as the writers set it (a read-only file cannot change it).
    if (file !== ':memory:' && !readOnly) database.exec('pragma journal_mode = wal');
    database.exec(`pragma synchronous = ${sqliteSync === 'full' ? 'full' : 'normal'}`);
    database.prepare('select count(*) from sqlite_master').all();
    const cached = withStatementCache(database);
    return {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) }),
      handle: sqliteHandle(database, cached),
    };
  } catch (error) {
    if (readOnly && /readonly database/i.test(error instanceof Error ? error.message : '')) {
      // A WAL database keeps its -shm and -wal files beside it; even a reader needs to make them.
      throw new KeelError(
        'store_unavailable',
        `cannot read ${location}: SQLite must create ${location}-shm and -wal beside the store, and the directory is read-only`,
      );
    }
    throw storeFault(error, location);
  }
}

/**
 * `mkdir -p`, one level at a time. Node's recursive mkdir can spin forever on paths like
 * `/proc/x/y` (the child reports ENOENT while the parent reports EEXIST).
 */
function makeDirectories(directory: string): void {
  const missing: string[] = [];
  let current = directory;
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing) {
    try {
      mkdirSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

async function openPostgres(url: string, options: OpenStoreOptions): Promise<SqlStore> {
  const { waitMs = 0 } = options;
  const deadline = Date.now() + waitMs;
  for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 2_000)) {
    try {
      return await openPostgresOnce(url, options);
    } catch (error) {
      const left = deadline - Date.now();
      if (left <= 0 || !isPassingStoreFault(error)) throw error;
      await sleep(Math.min(delayMs, left));
    }
  }
}

async function openPostgresOnce(
  url: string,
  { postgresSchema, poolSize = 10, auditKey = envAuditKey() }: OpenStoreOptions,
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
  // A checked-out client between two statements (inside a transaction, say) has no listener of
  // the pool's: a database restart there would be an unhandled 'error' that ends the process.
  // The statement that meets the broken connection reports it, and the pool drops the client.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listeners = new Set<() => Promise<void>>();
  const store = new SqlStore({
    auditKey,
    kind: 'postgres',
    location,
    db,
    schema,
    onClose: async () => {
      await Promise.all([...listeners].map((stop) => stop()));
      await db.destroy();
    },
    // A dedicated connection per subscription: a pooled one would drop the LISTEN. When it is
    // lost (a database restart), it is opened again with backoff; workers poll meanwhile.
    async listen(channel, onMessage) {
      let stopped = false;
      let client: InstanceType<typeof pg.Client> | undefined;
      let retryMs = 500;
      const connect = async (): Promise<void> => {
        const next = new pg.Client({
          connectionString: parsed.toString(),
          connectionTimeoutMillis: 5_000,
        });
        let lost = false;
        const onLost = (): void => {
          if (lost || stopped) return;
          lost = true;
          setTimeout(reconnect, timerDelay(retryMs)).unref();
          retryMs = Math.min(retryMs * 2, 30_000);
        };
        next.on('error', onLost);
        next.on('end', onLost);
        next.on('notification', (message) => {
          if (message.channel === channel) onMessage(message.payload ?? '');
        });
        client = next;
        await next.connect();
        await next.query(`listen ${channel}`);
        retryMs = 500;
        // Runs queued while nobody listened are found now rather than at the next poll.
        onMessage('');
      };
      const reconnect = (): void => {
        if (stopped) return;
        const previous = client;
        void previous?.end().catch(() => undefined);
        connect().catch(() => {
          client?.emit('error', new Error('listen reconnect failed'));
        });
      };
      try {
        await connect();
      } catch (error) {
        stopped = true;
        await client?.end().catch(() => undefined);
        throw error;
      }
      const stop = async (): Promise<void> => {
        stopped = true;
        listeners.delete(stop);
        await client?.end().catch(() => undefined);
      };
      listeners.add(stop);
      return stop;
    },
  });
  try {
    await store.migrate();
  } catch (error) {
    await db.destroy().catch(() => undefined);
    throw error;
  }
  return store;
}

function envAuditKey(): string | undefined {
  const key = process.env.KEEL_AUDIT_KEY;
  return key === undefined || key === '' ? undefined : key;
}
