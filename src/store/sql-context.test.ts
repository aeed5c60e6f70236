import { CompiledQuery, Kysely, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { selectGuardRows, selectLastAudit } from './hot-statements.js';
import type { Database } from './schema.js';
import { sqlContext } from './sql-context.js';
import { sqliteDriver } from './sqlite-driver.js';
import { sqliteHandle } from './sqlite-handle.js';
import { withStatementCache } from './statement-cache.js';

function sqliteContext() {
  const database = new (sqliteDriver())(':memory:');
  const cached = withStatementCache(database);
  const handle = sqliteHandle(database, cached);
  handle.exec(
    'create table keel_runs (id text primary key, status text, lease_owner text, claims integer); create table keel_audit (seq integer primary key, hash text)',
  );
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cached }) });
  return { context: sqlContext({ db, kind: 'sqlite', location: 'memory', sqlite: handle }), db };
}

describe('a journal write on SQLite', () => {
  it('reads one row as its columns only, none as no rows, and many rows whole', async () => {
    const { context, db } = sqliteContext();
    try {
      const rows = await context.write(async (run) => {
        const emptyAudit = (await run(selectLastAudit())).rows;
        await run(CompiledQuery.raw("insert into keel_audit values (1, 'a'), (2, 'b')"));
        await run(
          CompiledQuery.raw(
            "insert into keel_runs values ('r1', 'running', 'w', 1), ('r2', 'queued', null, 0)",
          ),
        );
        return {
          emptyAudit,
          lastAudit: (await run(selectLastAudit())).rows,
          oneRun: (await run(selectGuardRows('sqlite', ['r1'])[0]!)).rows,
          noRun: (await run(selectGuardRows('sqlite', ['nobody'])[0]!)).rows,
          twoRuns: (await run(selectGuardRows('sqlite', ['r1', 'r2'])[0]!)).rows,
        };
      });
      // Exactly the columns: no driver bookkeeping (libsql's `get` adds its timing to a row).
      expect(rows).toEqual({
        emptyAudit: [],
        lastAudit: [{ seq: 2, hash: 'b' }],
        oneRun: [{ id: 'r1', status: 'running', lease_owner: 'w', claims: 1 }],
        noRun: [],
        twoRuns: [
          { id: 'r1', status: 'running', lease_owner: 'w', claims: 1 },
          { id: 'r2', status: 'queued', lease_owner: null, claims: 0 },
        ],
      });
    } finally {
      await db.destroy();
    }
  });
});
