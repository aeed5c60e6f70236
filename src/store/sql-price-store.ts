import type { PriceStore, RunPrice } from './price-store.js';
import type { SqlContext } from './sql-context.js';

/** Re-pricings of runs over Kysely: one row per run, replaced by the next re-pricing. */
export class SqlPriceStore implements PriceStore {
  readonly #sql: SqlContext;

  constructor(context: SqlContext) {
    this.#sql = context;
  }

  async save(prices: readonly RunPrice[]): Promise<void> {
    if (prices.length === 0) return;
    const rows = prices.map((price) => ({
      run_id: price.runId,
      cost_usd: price.costUsd,
      priced_calls: price.pricedCalls,
      unpriced_calls: price.unpricedCalls,
      priced_at: price.pricedAt,
    }));
    await this.#sql.guarded(() =>
      this.#sql.db
        .insertInto('keel_run_prices')
        .values(rows)
        .onConflict((conflict) =>
          conflict.column('run_id').doUpdateSet((update) => ({
            cost_usd: update.ref('excluded.cost_usd'),
            priced_calls: update.ref('excluded.priced_calls'),
            unpriced_calls: update.ref('excluded.unpriced_calls'),
            priced_at: update.ref('excluded.priced_at'),
          })),
        )
        .execute(),
    );
  }

  async get(runId: string): Promise<RunPrice | undefined> {
    const row = await this.#sql.guarded(() =>
      this.#sql.db
        .selectFrom('keel_run_prices')
        .selectAll()
        .where('run_id', '=', runId)
        .executeTakeFirst(),
    );
    if (!row) return undefined;
    return {
      runId: row.run_id,
      costUsd: row.cost_usd,
      pricedCalls: row.priced_calls,
      unpricedCalls: row.unpriced_calls,
      pricedAt: row.priced_at,
    };
  }
}
