import type { EvalStore, StoredEvalAttempt, StoredEvalRun } from './eval-store.js';
import type { EvalAttemptsTable, EvalRunsTable } from './schema.js';
import type { SqlContext } from './sql-context.js';

/** Evaluations over Kysely: a row per evaluation, a row per attempt with its journal as JSON. */
export class SqlEvalStore implements EvalStore {
  readonly #sql: SqlContext;

  constructor(context: SqlContext) {
    this.#sql = context;
  }

  async save(run: StoredEvalRun, attempts: readonly StoredEvalAttempt[]): Promise<void> {
    await this.#sql.transaction(async (db) => {
      await db
        .insertInto('keel_eval_runs')
        .values({
          id: run.id,
          suite: run.suite,
          sources: JSON.stringify(run.sources),
          created_at: run.createdAt,
          passed: run.passed,
          failed: run.failed,
          k: run.k,
          pass_at_1: run.passAt1,
          pass_hat_k: run.passHatK,
          cost_usd: run.costUsd,
          duration_ms: run.durationMs,
          rescore_of: run.rescoreOf ?? null,
          report: JSON.stringify(run.report),
        })
        .execute();
      // Journals can be long: a few attempts per statement keeps each one small.
      for (let index = 0; index < attempts.length; index += 20) {
        await db
          .insertInto('keel_eval_attempts')
          .values(
            attempts.slice(index, index + 20).map((attempt) => ({
              eval_run_id: run.id,
              case_name: attempt.caseName,
              attempt: attempt.attempt,
              run_id: attempt.runId,
              passed: attempt.passed ? 1 : 0,
              result: JSON.stringify(attempt.result),
              journal: JSON.stringify(attempt.journal),
            })),
          )
          .execute();
      }
    });
  }

  async get(id: string): Promise<StoredEvalRun | undefined> {
    const row = await this.#sql.guarded(() =>
      this.#sql.db.selectFrom('keel_eval_runs').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? evalRun(row) : undefined;
  }

  async list({ suite, limit = 20 }: { suite?: string; limit?: number } = {}): Promise<
    StoredEvalRun[]
  > {
    let query = this.#sql.db.selectFrom('keel_eval_runs').selectAll();
    if (suite !== undefined) query = query.where('suite', '=', suite);
    const rows = await this.#sql.guarded(() =>
      query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute(),
    );
    return rows.map(evalRun);
  }

  async attempts(evalRunId: string): Promise<StoredEvalAttempt[]> {
    const rows = await this.#sql.guarded(() =>
      this.#sql.db
        .selectFrom('keel_eval_attempts')
        .selectAll()
        .where('eval_run_id', '=', evalRunId)
        .orderBy('case_name')
        .orderBy('attempt')
        .execute(),
    );
    return rows.map((row: EvalAttemptsTable): StoredEvalAttempt => ({
      evalRunId: row.eval_run_id,
      caseName: row.case_name,
      attempt: row.attempt,
      runId: row.run_id,
      passed: row.passed === 1,
      result: JSON.parse(row.result) as unknown,
      journal: JSON.parse(row.journal) as unknown[],
    }));
  }
}

function evalRun(row: EvalRunsTable): StoredEvalRun {
  return {
    id: row.id,
    suite: row.suite,
    sources: JSON.parse(row.sources) as string[],
    createdAt: row.created_at,
    passed: row.passed,
    failed: row.failed,
    k: row.k,
    passAt1: row.pass_at_1,
    passHatK: row.pass_hat_k,
    costUsd: row.cost_usd,
    durationMs: row.duration_ms,
    ...(row.rescore_of === null ? {} : { rescoreOf: row.rescore_of }),
    report: JSON.parse(row.report) as unknown,
  };
}
