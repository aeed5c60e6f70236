import type { SqliteDatabase, SqliteStatement as KyselySqliteStatement } from 'kysely';

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
