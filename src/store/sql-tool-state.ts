import type { SqlContext } from './sql-context.js';
import type {
  BreakerState,
  CachedToolResult,
  ToolBreakerRecord,
  ToolStateStore,
} from './tool-records.js';

/** The tool layer's shared state over Kysely: breaker rows and the result cache. */
export class SqlToolState implements ToolStateStore {
  readonly #sql: SqlContext;

  constructor(context: SqlContext) {
    this.#sql = context;
  }

  async getBreaker(tool: string): Promise<ToolBreakerRecord | undefined> {
    const row = await this.#sql.guarded(() =>
      this.#sql.db
        .selectFrom('keel_tool_breakers')
        .selectAll()
        .where('tool', '=', tool)
        .executeTakeFirst(),
    );
    if (!row) return undefined;
    return {
      tool: row.tool,
      state: row.state as BreakerState,
      failures: row.failures,
      until: row.until,
      updatedAt: row.updated_at,
      version: row.version,
    };
  }

  async putBreaker(next: ToolBreakerRecord, expectedVersion: number): Promise<boolean> {
    const { db } = this.#sql;
    const values = {
      state: next.state,
      failures: next.failures,
      until: next.until,
      updated_at: next.updatedAt,
      version: expectedVersion + 1,
    };
    const result = await this.#sql.guarded(() =>
      expectedVersion === 0
        ? db
            .insertInto('keel_tool_breakers')
            .values({ tool: next.tool, ...values })
            .onConflict((conflict) => conflict.column('tool').doNothing())
            .executeTakeFirst()
            .then((inserted) => inserted.numInsertedOrUpdatedRows ?? 0n)
        : db
            .updateTable('keel_tool_breakers')
            .set(values)
            .where('tool', '=', next.tool)
            .where('version', '=', expectedVersion)
            .executeTakeFirst()
            .then((updated) => updated.numUpdatedRows),
    );
    return Number(result) === 1;
  }

  async getCachedResult(key: string, now: number): Promise<CachedToolResult | undefined> {
    const row = await this.#sql.guarded(() =>
      this.#sql.db
        .selectFrom('keel_tool_cache')
        .selectAll()
        .where('key', '=', key)
        .where('expires_at', '>', now)
        .executeTakeFirst(),
    );
    if (!row) return undefined;
    return {
      key: row.key,
      tool: row.tool,
      value: row.value,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    };
  }

  async putCachedResult(entry: CachedToolResult, now: number): Promise<void> {
    const { db } = this.#sql;
    const row = {
      key: entry.key,
      tool: entry.tool,
      value: entry.value,
      created_at: entry.createdAt,
      expires_at: entry.expiresAt,
    };
    await this.#sql.guarded(async () => {
      await db
        .deleteFrom('keel_tool_cache')
        .where('tool', '=', entry.tool)
        .where('expires_at', '<=', now)
        .execute();
      await db
        .insertInto('keel_tool_cache')
        .values(row)
        .onConflict((conflict) =>
          conflict.column('key').doUpdateSet({
            value: row.value,
            created_at: row.created_at,
            expires_at: row.expires_at,
          }),
        )
        .execute();
    });
  }
}
