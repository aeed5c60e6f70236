import type { Kysely } from 'kysely';
import type { PruneSelection, PrunableRun, RetentionStore } from './retention.js';
import { TERMINAL_STATUSES, type TerminalStatus } from './run-journal.js';
import type { Database } from './schema.js';
import type { SqlContext } from './sql-context.js';

/** The `RetentionStore` over Kysely. */
export class SqlRetention implements RetentionStore {
  readonly #sql: SqlContext;

  constructor(context: SqlContext) {
    this.#sql = context;
  }

  prunable(selection: PruneSelection & { limit: number }): Promise<PrunableRun[]> {
    return this.#sql.guarded(() => select(this.#sql.db, selection));
  }

  pruneRuns(selection: PruneSelection & { limit: number }): Promise<PrunableRun[]> {
    return this.#sql.transaction(async (db) => {
      // Chosen again inside the transaction: a run re-opened meanwhile is no longer finished.
      const runs = await select(db, selection);
      if (runs.length === 0) return [];
      const ids = runs.map((run) => run.id);
      const approvals = db.selectFrom('keel_approvals').select('id').where('run_id', 'in', ids);
      await db
        .deleteFrom('keel_approval_decisions')
        .where('approval_id', 'in', approvals)
        .execute();
      await db.deleteFrom('keel_approvals').where('run_id', 'in', ids).execute();
      await db.deleteFrom('keel_decisions').where('run_id', 'in', ids).execute();
      await db.deleteFrom('keel_context_results').where('run_id', 'in', ids).execute();
      await db.deleteFrom('keel_run_prices').where('run_id', 'in', ids).execute();
      await db.deleteFrom('keel_eval_attempts').where('run_id', 'in', ids).execute();
      await db.deleteFrom('keel_events').where('run_id', 'in', ids).execute();
      await db
        .deleteFrom('keel_runs')
        .where('id', 'in', ids)
        .where('status', 'in', [...TERMINAL_STATUSES])
        .execute();
      return runs;
    });
  }

  async auditPrefixBefore(at: number): Promise<number> {
    return this.#sql.guarded(async () => {
      // Rows are in seq order but `at` comes from each writer's clock: stop at the first row
      // written at or after `at`, so that the prefix removed is contiguous.
      const first = await this.#sql.db
        .selectFrom('keel_audit')
        .select(({ fn }) => fn.min('seq').as('seq'))
        .where('at', '>=', at)
        .executeTakeFirst();
      if (first?.seq !== null && first?.seq !== undefined) return first.seq - 1;
      const last = await this.#sql.db
        .selectFrom('keel_audit')
        .select(({ fn }) => fn.max('seq').as('seq'))
        .executeTakeFirst();
      return last?.seq === null || last?.seq === undefined ? 0 : last.seq;
    });
  }
}

function select(
  db: Kysely<Database>,
  { finishedBefore, statuses, limit }: PruneSelection & { limit: number },
): Promise<PrunableRun[]> {
  const wanted = statuses && statuses.length > 0 ? statuses : TERMINAL_STATUSES;
  return db
    .selectFrom('keel_runs')
    .select(['id', 'agent', 'status', 'finished_at'])
    .where('status', 'in', [...wanted])
    .where('finished_at', 'is not', null)
    .where('finished_at', '<', finishedBefore)
    .orderBy('finished_at')
    .orderBy('id')
    .limit(limit)
    .execute()
    .then((rows) =>
      rows.map((row) => ({
        id: row.id,
        agent: row.agent,
        status: row.status as TerminalStatus,
        finishedAt: row.finished_at ?? 0,
      })),
    );
}
