import type { SqliteDatabase, SqliteStatement as KyselySqliteStatement } from 'kysely';
import type { PreparingDatabase } from './statement-cache.js';

/** A prepared statement, as Kysely runs it, and `get` for a read of one row. */
export interface SqliteStatement extends KyselySqliteStatement {
  /** The first row, or `undefined` when there is none. */
  get(parameters: ReadonlyArray<unknown>): unknown;
}

/**
 * The SQLite connection under Kysely, for work that runs synchronously while Kysely's one
 * connection is held (see `withSqliteHandle`): no statement of anyone else's can come between.
 */
export interface SqliteHandle extends SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  /** Runs a script of statements separated by `;`. */
  exec(sql: string): void;
}

/**
 * The handle over a connection whose prepared statements `cached` keeps (the same cache
 * Kysely's dialect is given): scripts run on the connection itself.
 */
export function sqliteHandle(
  database: { exec(sql: string): unknown },
  cached: PreparingDatabase<SqliteStatement>,
): SqliteHandle {
  return {
    close: () => {
      cached.close();
    },
    prepare: (sql) => cached.prepare(sql),
    exec: (sql) => {
      database.exec(sql);
    },
  };
}
