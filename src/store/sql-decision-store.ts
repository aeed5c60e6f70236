import type { Kysely, Selectable } from 'kysely';
import type { DecisionRecord, DecisionStatus, DecisionStore } from './decision-store.js';
import type { Database, DecisionsTable } from './schema.js';
import { STORE_SCHEMA_VERSION } from './store.js';

/** The `DecisionStore` over Kysely, sharing the run store's connections. */
export class SqlDecisionStore implements DecisionStore {
  readonly #db: Kysely<Database>;
  readonly #guarded: <T>(work: () => Promise<T>) => Promise<T>;

  constructor(options: {
    db: Kysely<Database>;
    guarded: <T>(work: () => Promise<T>) => Promise<T>;
  }) {
    this.#db = options.db;
    this.#guarded = options.guarded;
  }

  async save(record: DecisionRecord): Promise<void> {
    const row = toRow(record);
    const { id: _id, ...rest } = row;
    await this.#guarded(() =>
      this.#db
        .insertInto('keel_decisions')
        .values(row)
        .onConflict((conflict) => conflict.column('id').doUpdateSet(rest))
        .execute(),
    );
  }

  async get(id: string): Promise<DecisionRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db.selectFrom('keel_decisions').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  async list(
    options: { readonly status?: DecisionStatus; readonly limit?: number } = {},
  ): Promise<DecisionRecord[]> {
    const rows = await this.#guarded(() => {
      let query = this.#db.selectFrom('keel_decisions').selectAll();
      if (options.status) query = query.where('status', '=', options.status);
      return query
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .limit(options.limit ?? 500)
        .execute();
    });
    return rows.map(toRecord);
  }

  async findCached(cacheKey: string): Promise<DecisionRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_decisions')
        .selectAll()
        .where('cache_key', '=', cacheKey)
        .where('status', '=', 'decided')
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  async resolve(options: {
    readonly id: string;
    readonly value: unknown;
    readonly decidedBy: string;
    readonly at: number;
    readonly event: unknown;
  }): Promise<DecisionRecord | undefined> {
    const current = await this.get(options.id);
    if (current?.status !== 'review') return undefined;
    // Compare-and-set on the status: of two reviewers only the first one's update matches.
    const result = await this.#guarded(() =>
      this.#db
        .updateTable('keel_decisions')
        .set({
          status: 'resolved',
          value: JSON.stringify(options.value),
          confidence: 1,
          decided_at: options.at,
          decided_by: options.decidedBy,
          events: JSON.stringify([...current.events, options.event]),
        })
        .where('id', '=', options.id)
        .where('status', '=', 'review')
        .executeTakeFirst(),
    );
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.get(options.id);
  }

  async linkRun(id: string, startedRunId: string): Promise<void> {
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_decisions')
        .set({ started_run_id: startedRunId })
        .where('id', '=', id)
        .execute(),
    );
  }
}

function toRow(record: DecisionRecord): DecisionsTable {
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    instructions: record.instructions,
    input: JSON.stringify(record.input ?? null),
    value: JSON.stringify(record.value ?? null),
    confidence: record.confidence,
    reason: record.reason,
    choices: record.choices === null ? null : JSON.stringify(record.choices),
    cache_key: record.cacheKey,
    run_id: record.runId,
    started_run_id: record.startedRunId,
    on_resolve: JSON.stringify(record.onResolve ?? null),
    events: JSON.stringify(record.events),
    created_at: record.createdAt,
    decided_at: record.decidedAt,
    decided_by: record.decidedBy,
    schema_version: STORE_SCHEMA_VERSION,
  };
}

function toRecord(row: Selectable<DecisionsTable>): DecisionRecord {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status as DecisionStatus,
    instructions: row.instructions,
    input: JSON.parse(row.input) as unknown,
    value: JSON.parse(row.value) as unknown,
    confidence: row.confidence,
    reason: row.reason,
    choices: row.choices === null ? null : (JSON.parse(row.choices) as unknown[]),
    cacheKey: row.cache_key,
    runId: row.run_id,
    startedRunId: row.started_run_id,
    onResolve: JSON.parse(row.on_resolve) as unknown,
    events: JSON.parse(row.events) as unknown[],
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    decidedBy: row.decided_by,
  };
}
