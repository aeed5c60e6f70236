import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { storeFault } from './store-errors.js';

/** Rows per multi-row insert: stays under SQLite's and PostgreSQL's bound-parameter limits. */
export const INSERT_CHUNK = 500;

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
  /** Run statements, turning a driver error into a store fault. */
  readonly guarded: <T>(work: () => Promise<T>) => Promise<T>;
}

export function sqlContext(options: {
  readonly db: Kysely<Database>;
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
}): SqlContext {
  const { db, kind, location } = options;
  async function guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeFault(error, location);
    }
  }
  return {
    db,
    kind,
    location,
    guarded,
    transaction: <T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> =>
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
      ),
  };
}
