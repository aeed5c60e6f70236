import type { SqlContext } from './sql-context.js';
import {
  FRESH_BUDGET,
  admit,
  type BudgetRequest,
  type BudgetState,
  type ProviderBudgets,
} from './provider-budgets.js';

/**
 * Provider budgets: on PostgreSQL one row per key, paced under a row lock so every worker on
 * the database shares it; on SQLite (one process) in memory.
 */
export class SqlProviderBudgets implements ProviderBudgets {
  readonly #sql: SqlContext;
  readonly #local = new Map<string, BudgetState>();

  constructor(context: SqlContext) {
    this.#sql = context;
  }

  async take(request: BudgetRequest): Promise<number> {
    if (this.#sql.kind === 'sqlite') {
      const { waitMs, next } = admit(this.#local.get(request.key) ?? FRESH_BUDGET, request);
      this.#local.set(request.key, next);
      return Promise.resolve(waitMs);
    }
    return this.#sql.transaction(async (db) => {
      await db
        .insertInto('keel_provider_budgets')
        .values({ key: request.key, next_request_at: 0, next_token_at: 0, paused_until: 0 })
        .onConflict((conflict) => conflict.column('key').doNothing())
        .execute();
      const row = await db
        .selectFrom('keel_provider_budgets')
        .selectAll()
        .where('key', '=', request.key)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const { waitMs, next } = admit(
        {
          nextRequestAt: row.next_request_at,
          nextTokenAt: row.next_token_at,
          pausedUntil: row.paused_until,
        },
        request,
      );
      if (waitMs === 0)
        await db
          .updateTable('keel_provider_budgets')
          .set({ next_request_at: next.nextRequestAt, next_token_at: next.nextTokenAt })
          .where('key', '=', request.key)
          .execute();
      return waitMs;
    });
  }

  async pause(key: string, until: number): Promise<void> {
    if (this.#sql.kind === 'sqlite') {
      const state = this.#local.get(key) ?? FRESH_BUDGET;
      this.#local.set(key, { ...state, pausedUntil: Math.max(state.pausedUntil, until) });
      return;
    }
    await this.#sql.guarded(() =>
      this.#sql.db
        .insertInto('keel_provider_budgets')
        .values({ key, next_request_at: 0, next_token_at: 0, paused_until: until })
        .onConflict((conflict) =>
          conflict.column('key').doUpdateSet((eb) => ({
            paused_until: eb.fn('greatest', [
              eb.ref('keel_provider_budgets.paused_until'),
              eb.val(until),
            ]),
          })),
        )
        .execute(),
    );
  }
}
