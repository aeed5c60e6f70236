import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * The SQLite connection under Kysely, for work that runs synchronously while Kysely's one
 * connection is held (see `withSqliteHandle`): no statement of anyone else's can come between.
 */
export interface SqliteHandle extends SqliteDatabase {
  /** Runs a script of statements separated by `;`. */
  exec(sql: string): void;
}

export type { SqliteStatement };
