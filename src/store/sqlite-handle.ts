import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { WalSync } from './wal-sync.js';

/**
 * The SQLite connection under Kysely, for work that runs synchronously while Kysely's one
 * connection is held (see `withSqliteHandle`): no statement of anyone else's can come between.
 */
export interface SqliteHandle extends SqliteDatabase {
  /** Runs a script of statements separated by `;`. */
  exec(sql: string): void;
  /**
   * Set on a WAL file opened with `synchronous = full`: its journal writes commit under
   * `normal` and are then made durable by this fsync, which leaves the thread free meanwhile.
   */
  readonly wal?: WalSync | undefined;
}

export type { SqliteStatement };
