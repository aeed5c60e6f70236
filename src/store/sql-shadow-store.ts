import type { Kysely, Selectable } from 'kysely';
import type { Database, ShadowsTable } from './schema.js';
import type { ShadowPair, ShadowRecord, ShadowStore, ShadowUsage } from './shadow-store.js';

/** The `ShadowStore` over Kysely, sharing the run store's connections. */
export class SqlShadowStore implements ShadowStore {
  readonly #db: Kysely<Database>;
  readonly #guarded: <T>(work: () => Promise<T>) => Promise<T>;

  constructor(options: {
    db: Kysely<Database>;
    guarded: <T>(work: () => Promise<T>) => Promise<T>;
  }) {
    this.#db = options.db;
    this.#guarded = options.guarded;
  }

  async save(record: ShadowRecord): Promise<void> {
    const row = toRow(record);
    await this.#guarded(() =>
      this.#db
        .insertInto('keel_shadows')
        .values(row)
        .onConflict((conflict) => conflict.column('id').doUpdateSet(row))
        .execute(),
    );
  }

  async get(id: string): Promise<ShadowRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db.selectFrom('keel_shadows').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  async list(
    options: { readonly active?: boolean | undefined; readonly agent?: string | undefined } = {},
  ): Promise<ShadowRecord[]> {
    const rows = await this.#guarded(() => {
      let query = this.#db
        .selectFrom('keel_shadows')
        .selectAll()
        .orderBy('started_at', 'desc')
        .orderBy('id', 'desc');
      if (options.active) query = query.where('stopped_at', 'is', null);
      if (options.agent !== undefined) query = query.where('agent', '=', options.agent);
      return query.execute();
    });
    return rows.map(toRecord);
  }

  async stop(id: string, at: number, reason = 'stopped'): Promise<ShadowRecord | undefined> {
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_shadows')
        .set({ stopped_at: at, stop_reason: reason })
        .where('id', '=', id)
        .where('stopped_at', 'is', null)
        .execute(),
    );
    return this.get(id);
  }

  async addPair(pair: ShadowPair): Promise<boolean> {
    const result = await this.#guarded(() =>
      this.#db
        .insertInto('keel_shadow_pairs')
        .values({
          shadow_id: pair.shadowId,
          run_id: pair.runId,
          candidate_run_id: pair.candidateRunId,
          created_at: pair.createdAt,
        })
        .onConflict((conflict) => conflict.columns(['shadow_id', 'run_id']).doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async pairs(shadowId?: string): Promise<ShadowPair[]> {
    const rows = await this.#guarded(() => {
      let query = this.#db
        .selectFrom('keel_shadow_pairs')
        .selectAll()
        .orderBy('created_at')
        .orderBy('run_id');
      if (shadowId !== undefined) query = query.where('shadow_id', '=', shadowId);
      return query.execute();
    });
    return rows.map((row) => ({
      shadowId: row.shadow_id,
      runId: row.run_id,
      candidateRunId: row.candidate_run_id,
      createdAt: row.created_at,
    }));
  }

  async unpaired({
    shadowId,
    agent,
    finishedSince,
    limit,
  }: {
    readonly shadowId: string;
    readonly agent: string;
    readonly finishedSince: number;
    readonly limit: number;
  }): Promise<{ readonly id: string; readonly finishedAt: number }[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_runs as run')
        .select(['run.id', 'run.finished_at'])
        .where('run.agent', '=', agent)
        .where('run.shadow_of', 'is', null)
        .where('run.finished_at', '>=', finishedSince)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('keel_shadow_pairs as pair')
                .select('pair.run_id')
                .where('pair.shadow_id', '=', shadowId)
                .whereRef('pair.run_id', '=', 'run.id'),
            ),
          ),
        )
        .orderBy('run.finished_at')
        .orderBy('run.id')
        .limit(limit)
        .execute(),
    );
    return rows.map((row) => ({ id: row.id, finishedAt: row.finished_at ?? finishedSince }));
  }

  async pairsWithoutRun(createdBefore: number): Promise<ShadowPair[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_shadow_pairs as pair')
        .leftJoin('keel_runs as run', 'run.id', 'pair.candidate_run_id')
        .selectAll('pair')
        .where('run.id', 'is', null)
        .where('pair.created_at', '<', createdBefore)
        .orderBy('pair.created_at')
        .execute(),
    );
    return rows.map((row) => ({
      shadowId: row.shadow_id,
      runId: row.run_id,
      candidateRunId: row.candidate_run_id,
      createdAt: row.created_at,
    }));
  }

  async usage(shadowId: string): Promise<ShadowUsage> {
    const row = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_shadow_pairs as pair')
        .leftJoin('keel_runs as run', 'run.id', 'pair.candidate_run_id')
        .where('pair.shadow_id', '=', shadowId)
        .select((eb) => [
          eb.fn.countAll<number | string>().as('pairs'),
          eb.fn
            .sum<number | string | null>(
              eb
                .case()
                .when('run.status', 'in', ['queued', 'running', 'waiting'])
                .then(1)
                .else(0)
                .end(),
            )
            .as('active'),
          eb.fn.sum<number | string | null>('run.cost_usd').as('cost'),
          eb.fn
            .sum<number | string | null>(
              eb
                .case()
                .when(
                  eb.and([
                    eb('run.status', '=', 'stopped'),
                    eb('run.reason', 'like', '{"type":"limit","limit":"cost"%'),
                  ]),
                )
                .then(1)
                .else(0)
                .end(),
            )
            .as('cost_stops'),
        ])
        .executeTakeFirst(),
    );
    return {
      pairs: Number(row?.pairs ?? 0),
      active: Number(row?.active ?? 0),
      costUsd: Number(row?.cost ?? 0),
      costStops: Number(row?.cost_stops ?? 0),
    };
  }
}

function toRow(record: ShadowRecord): ShadowsTable {
  return {
    id: record.id,
    agent: record.agent,
    candidate_version: record.candidateVersion,
    candidate_module: record.candidateModule,
    share: record.share,
    max_concurrent: record.maxConcurrent,
    max_cost_usd: record.maxCostUsd,
    allow_live_reads: record.allowLiveReads ? 1 : 0,
    started_at: record.startedAt,
    stopped_at: record.stoppedAt,
    stop_reason: record.stopReason,
  };
}

function toRecord(row: Selectable<ShadowsTable>): ShadowRecord {
  return {
    id: row.id,
    agent: row.agent,
    candidateVersion: row.candidate_version,
    candidateModule: row.candidate_module,
    share: row.share,
    maxConcurrent: row.max_concurrent,
    maxCostUsd: row.max_cost_usd,
    allowLiveReads: row.allow_live_reads === 1,
    startedAt: row.started_at,
    stoppedAt: row.stopped_at,
    stopReason: row.stop_reason,
  };
}
