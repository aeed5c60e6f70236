import type { Kysely } from 'kysely';
import { KeelError } from '../core/index.js';
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

  eraseRun(
    runId: string,
    erase: (value: unknown) => unknown,
  ): Promise<{ events: number; approvals: number; results: number }> {
    return this.#sql.transaction(async (db) => {
      const run = await db
        .selectFrom('keel_runs')
        .select(['status', 'task', 'output'])
        .where('id', '=', runId)
        .executeTakeFirst();
      if (!run) throw new KeelError('not_found', `no run ${runId}`);
      if (!(TERMINAL_STATUSES as readonly string[]).includes(run.status))
        throw new KeelError(
          'conflict',
          `run ${runId} is ${run.status}: erase it once it has finished (or cancel it first)`,
        );
      const text = (value: string) => erase(value) as string;
      await db
        .updateTable('keel_runs')
        .set({ task: text(run.task), output: run.output === null ? null : text(run.output) })
        .where('id', '=', runId)
        .execute();
      let events = 0;
      for (const row of await db
        .selectFrom('keel_events')
        .select(['seq', 'data'])
        .where('run_id', '=', runId)
        .execute()) {
        const data = JSON.stringify(erase(JSON.parse(row.data)));
        if (data === row.data) continue;
        events += 1;
        await db
          .updateTable('keel_events')
          .set({ data })
          .where('run_id', '=', runId)
          .where('seq', '=', row.seq)
          .execute();
      }
      let approvals = 0;
      for (const row of await db
        .selectFrom('keel_approvals')
        .select(['id', 'args', 'edited_args', 'edited_input'])
        .where('run_id', '=', runId)
        .execute()) {
        const args = JSON.stringify(erase(JSON.parse(row.args)));
        const rewrite = (json: string | null | undefined) =>
          json === null || json === undefined ? null : JSON.stringify(erase(JSON.parse(json)));
        const edited = rewrite(row.edited_args);
        const editedInput = rewrite(row.edited_input);
        if (
          args === row.args &&
          edited === row.edited_args &&
          editedInput === (row.edited_input ?? null)
        )
          continue;
        approvals += 1;
        await db
          .updateTable('keel_approvals')
          .set({ args, edited_args: edited, edited_input: editedInput })
          .where('id', '=', row.id)
          .execute();
      }
      let results = 0;
      for (const row of await db
        .selectFrom('keel_context_results')
        .select(['ref', 'content'])
        .where('run_id', '=', runId)
        .execute()) {
        const content = text(row.content);
        if (content === row.content) continue;
        results += 1;
        await db
          .updateTable('keel_context_results')
          .set({ content })
          .where('run_id', '=', runId)
          .where('ref', '=', row.ref)
          .execute();
      }
      return { events, approvals, results };
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
  return (
    db
      .selectFrom('keel_runs')
      .select(['id', 'agent', 'status', 'finished_at'])
      .where('status', 'in', [...wanted])
      .where('finished_at', 'is not', null)
      .where('finished_at', '<', finishedBefore)
      // A shadow's pairs are its report: neither side is removed while the shadow exists.
      .where('id', 'not in', db.selectFrom('keel_shadow_pairs').select('run_id'))
      .where('id', 'not in', db.selectFrom('keel_shadow_pairs').select('candidate_run_id'))
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
      )
  );
}
