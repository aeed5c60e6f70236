import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { returnsAtMostOneRow, type RunStatement } from './hot-statements.js';
import type { Database } from './schema.js';
import type { SqliteHandle, SqliteStatement } from './sqlite-handle.js';
import { storeFault } from './store-errors.js';

/**
 * What every SQL port shares: the connection pool, which engine it is, and the two ways to
 * run statements (each fault a one-line `KeelError` naming the store).
 */
export interface SqlContext {
  readonly db: Kysely<Database>;
  readonly kind: 'sqlite' | 'postgres';
  /** Where the store is, without credentials. */
  readonly location: string;
  /**
   * A short write transaction. SQLite takes its write lock up front (`begin immediate`). Never
   * held across a model or tool call: callers pass only SQL.
   */
  readonly transaction: <T>(work: (db: Kysely<Database>) => Promise<T>) => Promise<T>;
  /**
   * A write transaction of compiled statements (the journal's and the audit chain's writes).
   * On SQLite they run on the connection itself while Kysely's is held — no query builder,
   * no driver round trip per statement; the same statements in the same transaction.
   */
  readonly write: <T>(work: (run: RunStatement) => Promise<T>) => Promise<T>;
  /** Run statements, turning a driver error into a store fault. */
  readonly guarded: <T>(work: () => Promise<T>) => Promise<T>;
}

export function sqlContext(options: {
  readonly db: Kysely<Database>;
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  /** SQLite: the connection under `db`. */
  readonly sqlite?: SqliteHandle | undefined;
}): SqlContext {
  const { db, kind, location, sqlite } = options;
  async function guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeFault(error, location);
    }
  }
  const transaction = <T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> =>
    guarded(() =>
      db.connection().execute(async (connection) => {
        await sql.raw(kind === 'sqlite' ? 'begin immediate' : 'begin').execute(connection);
        try {
          const result = await work(connection);
          await sql.raw('commit').execute(connection);
          return result;
        } catch (error) {
          await sql
            .raw('rollback')
            .execute(connection)
            .catch(() => undefined);
          throw error;
        }
      }),
    );
  const write = sqlite
    ? <T>(work: (run: RunStatement) => Promise<T>): Promise<T> =>
        guarded(() => db.connection().execute(() => onHandle(sqlite, work)))
    : <T>(work: (run: RunStatement) => Promise<T>): Promise<T> =>
        transaction((connection) => work((query) => connection.executeQuery(query)));
  return { db, kind, location, guarded, transaction, write };
}

/**
 * Whether each prepared statement returns rows: libsql asks SQLite again at every `reader`
 * read, and the journal's statements stay prepared (the handle's statement cache).
 */
const readers = new WeakMap<SqliteStatement, boolean>();

/** `begin immediate` … `commit` on the SQLite connection, each statement run as it comes. */
async function onHandle<T>(
  handle: SqliteHandle,
  work: (run: RunStatement) => Promise<T>,
): Promise<T> {
  const run: RunStatement = <Row>(query: CompiledQuery<Row>) => {
    const statement = handle.prepare(query.sql);
    let reader = readers.get(statement);
    if (reader === undefined) {
      reader = statement.reader;
      readers.set(statement, reader);
    }
    if (reader) {
      if (!returnsAtMostOneRow(query))
        return Promise.resolve({ rows: statement.all(query.parameters) as Row[] });
      const row = statement.get(query.parameters) as { _metadata?: unknown } | undefined;
      if (row === undefined) return Promise.resolve({ rows: [] });
      // libsql adds its own timing to a row it gets: the row is its columns only.
      const { _metadata: _timing, ...columns } = row;
      return Promise.resolve({ rows: [columns as Row] });
    }
    statement.run(query.parameters);
    return Promise.resolve({ rows: [] });
  };
  handle.exec('begin immediate');
  try {
    const result = await work(run);
    handle.exec('commit');
    return result;
  } catch (error) {
    try {
      handle.exec('rollback');
    } catch {
      // SQLite rolled back already (a failed commit), or nothing was begun.
    }
    throw error;
  }
}
