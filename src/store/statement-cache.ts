import type { SqliteStatement } from 'kysely';

/** A SQLite connection as Kysely's dialect uses it, with the driver's own statement type. */
export interface PreparingDatabase<Statement extends SqliteStatement> {
  close(): void;
  prepare(sql: string): Statement;
}

const DEFAULT_CAPACITY = 256;

/**
 * A SQLite handle that keeps prepared statements by SQL text (least recently used out first).
 * Kysely's SQLite driver prepares every statement it runs; preparing costs as much as running
 * the small statements of a journal write. Safe because the driver runs one query at a time.
 */
export function withStatementCache<Statement extends SqliteStatement>(
  database: PreparingDatabase<Statement>,
  capacity = DEFAULT_CAPACITY,
): PreparingDatabase<Statement> {
  const statements = new Map<string, Statement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare(sql: string): Statement {
      const cached = statements.get(sql);
      if (cached) {
        statements.delete(sql);
        statements.set(sql, cached);
        return cached;
      }
      const statement = database.prepare(sql);
      if (statements.size >= capacity) {
        const oldest = statements.keys().next();
        if (!oldest.done) statements.delete(oldest.value);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
