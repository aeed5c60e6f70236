import { Migrator, sql, type Kysely } from 'kysely';
import { KeelError, type AbortableOptions } from '../core/index.js';
import { migrationProvider, type Database, type RunsTable } from './schema.js';
import { eventRow, leaseLost, parseEvent, toRecord } from './rows.js';
import { storeFault } from './store-errors.js';
import { AUDIT_GENESIS_HASH, auditHash, type AuditEntry, type NewAuditEntry } from './audit-log.js';
import { canonicalJson } from '../core/index.js';
import type { BreakerState, CachedToolResult, ToolBreakerRecord } from './tool-records.js';
import { SqlApprovalStore, type Listen } from './sql-approval-store.js';
import { SqlDecisionStore } from './sql-decision-store.js';
import { SqlResultStore } from './sql-result-store.js';
import { SqlMcpPinStore } from './sql-mcp-pin-store.js';
import {
  STORE_SCHEMA_VERSION,
  type ClaimOptions,
  type JournalWrite,
  type LeaseRenewal,
  type ListRunsOptions,
  type NewRun,
  type RunPrice,
  type RunRecord,
  type StoredEvent,
  type Store,
} from './store.js';

interface QueuedWrite {
  readonly write: JournalWrite;
  /** Set when the write creates its run: inserted first, in the same commit. */
  readonly create?: RunsTable | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/** Rows per multi-row insert: stays under SQLite's and PostgreSQL's bound-parameter limits. */
const INSERT_CHUNK = 500;
const MAX_GROUP = 2_000;

/**
 * The `Store` over Kysely, for both engines. Two branches only: SQLite takes its write lock up
 * front (`begin immediate`), PostgreSQL claims with `for update skip locked`.
 */
export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  readonly #db: Kysely<Database>;
  readonly #onClose: () => Promise<void>;
  readonly #queue: QueuedWrite[] = [];
  #draining: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;
  readonly #auditQueue: {
    entries: readonly NewAuditEntry[];
    resolve(rows: AuditEntry[]): void;
    reject(error: unknown): void;
  }[] = [];
  #auditDraining: Promise<void> | undefined;
  readonly #schema: string | undefined;
  readonly approvals: SqlApprovalStore;
  readonly decisions: SqlDecisionStore;
  readonly results: SqlResultStore;
  readonly mcpPins: SqlMcpPinStore;

  constructor(options: {
    kind: 'sqlite' | 'postgres';
    location: string;
    db: Kysely<Database>;
    onClose?: () => Promise<void>;
    /** PostgreSQL schema holding Keel's tables (and its migration bookkeeping). */
    schema?: string | undefined;
    /** PostgreSQL LISTEN on a dedicated connection. */
    listen?: Listen | undefined;
  }) {
    this.kind = options.kind;
    this.location = options.location;
    this.#db = options.db;
    this.#onClose = options.onClose ?? (() => Promise.resolve());
    this.#schema = options.schema;
    this.approvals = new SqlApprovalStore({
      db: this.#db,
      kind: this.kind,
      transaction: (work) => this.#transaction(work),
      guarded: (work) => this.#guarded(work),
      listen: options.listen,
    });
    this.decisions = new SqlDecisionStore({ db: this.#db, guarded: (work) => this.#guarded(work) });
    this.mcpPins = new SqlMcpPinStore({ db: this.#db, guarded: (work) => this.#guarded(work) });
    this.results = new SqlResultStore({
      db: this.#db,
      kind: this.kind,
      guarded: (work) => this.#guarded(work),
    });
  }

  /** Bring the schema up to date. Safe to call from many processes at once. */
  async migrate(): Promise<void> {
    // Keel's own bookkeeping tables, pinned to Keel's schema: a database may hold other Kysely
    // projects, or other Keel schemas, whose migration tables must not be mistaken for ours.
    const migrator = new Migrator({
      db: this.#db,
      provider: migrationProvider,
      migrationTableName: 'keel_migration',
      migrationLockTableName: 'keel_migration_lock',
      ...(this.kind === 'postgres' ? { migrationTableSchema: this.#schema ?? 'public' } : {}),
    });
    const deadline = Date.now() + 10_000;
    for (let attempt = 1; ; attempt++) {
      const { error } = await migrator.migrateToLatest();
      if (!error) return;
      // Kysely's migrator lists the tables of every schema in the database; a schema another
      // process drops meanwhile makes that listing fail with `invalid_schema_name` (3F000).
      // Nothing of ours was touched, so the migration is simply tried again.
      if (!isDroppedSchemaRace(error) || Date.now() > deadline) {
        throw storeFault(error, this.location);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * attempt)));
    }
  }

  async createRun(run: NewRun): Promise<RunRecord> {
    const row: RunsTable = {
      id: run.id,
      agent: run.agent,
      task: run.task,
      status: run.claimBy ? 'running' : 'queued',
      reason: null,
      output: null,
      lease_owner: run.claimBy?.workerId ?? null,
      lease_until: run.claimBy?.leaseUntil ?? 0,
      claims: run.claimBy ? 1 : 0,
      cancel_requested: 0,
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: 0,
      steps: 0,
      created_at: run.createdAt,
      updated_at: run.createdAt,
      finished_at: null,
      schema_version: STORE_SCHEMA_VERSION,
    };
    // Through the group commit: a burst of new runs shares commits (and fsyncs).
    await this.#enqueue({ runId: run.id, guard: { status: 'queued' }, events: run.events }, row);
    return toRecord(row);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db.selectFrom('keel_runs').selectAll().where('id', '=', runId).executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  async listRuns({ limit = 50, statuses, agent }: ListRunsOptions = {}): Promise<RunRecord[]> {
    const rows = await this.#guarded(() => {
      let query = this.#db
        .selectFrom('keel_runs')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc');
      if (statuses && statuses.length > 0) query = query.where('status', 'in', [...statuses]);
      if (agent !== undefined) query = query.where('agent', '=', agent);
      return query.limit(limit).execute();
    });
    return rows.map(toRecord);
  }

  async readEvents(
    runId: string,
    { afterSeq = 0 }: { afterSeq?: number } = {},
  ): Promise<StoredEvent[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_events')
        .selectAll()
        .where('run_id', '=', runId)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .execute(),
    );
    return rows.map((row) => ({
      runId: row.run_id,
      seq: row.seq,
      at: row.at,
      schemaVersion: row.schema_version,
      event: parseEvent(row.data, this.location, runId, row.seq),
    }));
  }

  append(write: JournalWrite): Promise<void> {
    return this.#enqueue(write, undefined);
  }

  #enqueue(write: JournalWrite, create: RunsTable | undefined): Promise<void> {
    if (this.#closed)
      return Promise.reject(
        new KeelError('store_unavailable', `the store at ${this.location} is closed`),
      );
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ write, create, resolve, reject });
      this.#schedule();
    });
  }

  async flush({ signal }: AbortableOptions = {}): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#draining) await this.#draining;
      else if (this.#scheduled || this.#queue.length > 0)
        await new Promise((resolve) => setImmediate(resolve));
      else return;
    }
  }

  async claimNext({
    workerId,
    now,
    leaseMs,
    agents,
  }: ClaimOptions): Promise<RunRecord | undefined> {
    if (agents?.length === 0) return undefined;
    const row = await this.#transaction(async (db) => {
      let query = db
        .selectFrom('keel_runs')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('status', '=', 'queued'),
            eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)]),
          ]),
        )
        .orderBy('created_at')
        .limit(1);
      if (agents) query = query.where('agent', 'in', [...agents]);
      if (this.kind === 'postgres') query = query.forUpdate().skipLocked();
      const candidate = await query.executeTakeFirst();
      if (!candidate) return undefined;
      return db
        .updateTable('keel_runs')
        .set({
          status: 'running',
          lease_owner: workerId,
          lease_until: now + leaseMs,
          claims: sql<number>`claims + 1`,
          updated_at: now,
        })
        .where('id', '=', candidate.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return row ? toRecord(row) : undefined;
  }

  async renewLeases({
    workerId,
    runIds,
    now,
    leaseMs,
  }: {
    workerId: string;
    runIds: readonly string[];
    now: number;
    leaseMs: number;
  }): Promise<LeaseRenewal> {
    if (runIds.length === 0) return { lost: [], cancelRequested: [] };
    const rows = await this.#guarded(() =>
      this.#db
        .updateTable('keel_runs')
        .set({ lease_until: now + leaseMs })
        .where('id', 'in', [...runIds])
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'running')
        .returning(['id', 'cancel_requested'])
        .execute(),
    );
    const held = new Set(rows.map((row) => row.id));
    return {
      lost: runIds.filter((id) => !held.has(id)),
      cancelRequested: rows.filter((row) => row.cancel_requested === 1).map((row) => row.id),
    };
  }

  async releaseLease(runId: string, workerId: string): Promise<void> {
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_runs')
        .set({ lease_until: 0, lease_owner: null })
        .where('id', '=', runId)
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'running')
        .execute(),
    );
  }

  async requestCancel(runId: string, now: number): Promise<RunRecord | undefined> {
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_runs')
        .set({ cancel_requested: 1, updated_at: now })
        .where('id', '=', runId)
        .where('status', 'in', ['queued', 'running'])
        .execute(),
    );
    // A run waiting on a human holds no lease: queue it so it is ended like any queued run.
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_runs')
        .set({ cancel_requested: 1, status: 'queued', updated_at: now })
        .where('id', '=', runId)
        .where('status', '=', 'waiting')
        .execute(),
    );
    return this.getRun(runId);
  }

  // The tool layer's shared state: circuit breakers, the result cache, the audit log.

  async getToolBreaker(tool: string): Promise<ToolBreakerRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db
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

  async putToolBreaker(next: ToolBreakerRecord, expectedVersion: number): Promise<boolean> {
    const values = {
      state: next.state,
      failures: next.failures,
      until: next.until,
      updated_at: next.updatedAt,
      version: expectedVersion + 1,
    };
    const result = await this.#guarded(() =>
      expectedVersion === 0
        ? this.#db
            .insertInto('keel_tool_breakers')
            .values({ tool: next.tool, ...values })
            .onConflict((conflict) => conflict.column('tool').doNothing())
            .executeTakeFirst()
            .then((inserted) => inserted.numInsertedOrUpdatedRows ?? 0n)
        : this.#db
            .updateTable('keel_tool_breakers')
            .set(values)
            .where('tool', '=', next.tool)
            .where('version', '=', expectedVersion)
            .executeTakeFirst()
            .then((updated) => updated.numUpdatedRows),
    );
    return Number(result) === 1;
  }

  async getCachedToolResult(key: string, now: number): Promise<CachedToolResult | undefined> {
    const row = await this.#guarded(() =>
      this.#db
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

  async putCachedToolResult(entry: CachedToolResult, now: number): Promise<void> {
    const row = {
      key: entry.key,
      tool: entry.tool,
      value: entry.value,
      created_at: entry.createdAt,
      expires_at: entry.expiresAt,
    };
    await this.#guarded(async () => {
      await this.#db
        .deleteFrom('keel_tool_cache')
        .where('tool', '=', entry.tool)
        .where('expires_at', '<=', now)
        .execute();
      await this.#db
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

  appendAudit(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    if (this.#closed)
      return Promise.reject(
        new KeelError('store_unavailable', `the store at ${this.location} is closed`),
      );
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise<AuditEntry[]>((resolve, reject) => {
      this.#auditQueue.push({ entries, resolve, reject });
      if (!this.#auditDraining) {
        this.#auditDraining = this.#drainAudit().finally(() => {
          this.#auditDraining = undefined;
        });
      }
    });
  }

  async readAudit({
    afterSeq = 0,
    limit = 1_000,
  }: { afterSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_audit')
        .selectAll()
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute(),
    );
    return rows.map((row) => ({
      seq: row.seq,
      at: row.at,
      kind: row.kind,
      runId: row.run_id,
      payload: row.payload,
      prevHash: row.prev_hash,
      hash: row.hash,
    }));
  }

  /** Group commit for the audit log: appends queued during a commit share the next one. */
  async #drainAudit(): Promise<void> {
    while (this.#auditQueue.length > 0) {
      const group = this.#auditQueue.splice(0, MAX_GROUP);
      try {
        const written = await this.#transaction((db) =>
          this.#insertAudit(
            db,
            group.map((item) => item.entries),
          ),
        );
        group.forEach((item, index) => {
          item.resolve(written[index] ?? []);
        });
      } catch (error) {
        const fault = storeFault(error, this.location);
        for (const item of group) item.reject(fault);
      }
    }
  }

  /**
   * Insert entries at the end of the chain, inside the caller's transaction. One chain across
   * processes: appends are serialized by the table lock (PostgreSQL) or by the write lock
   * `begin immediate` takes (SQLite).
   */
  async #insertAudit(
    db: Kysely<Database>,
    batches: readonly (readonly NewAuditEntry[])[],
  ): Promise<AuditEntry[][]> {
    if (this.kind === 'postgres') await sql`lock table keel_audit in exclusive mode`.execute(db);
    const last = await db
      .selectFrom('keel_audit')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let seq = last ? last.seq : 0;
    let prevHash = last?.hash ?? AUDIT_GENESIS_HASH;
    const written = batches.map((entries) =>
      entries.map((entry) => {
        const row = {
          seq: ++seq,
          at: entry.at,
          kind: entry.kind,
          runId: entry.runId ?? null,
          payload: canonicalJson(entry.data) ?? 'null',
          prevHash,
        };
        prevHash = auditHash(row);
        return { ...row, hash: prevHash };
      }),
    );
    const rows = written.flat();
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      await db
        .insertInto('keel_audit')
        .values(
          rows.slice(start, start + INSERT_CHUNK).map((row) => ({
            seq: row.seq,
            at: row.at,
            kind: row.kind,
            run_id: row.runId,
            payload: row.payload,
            prev_hash: row.prevHash,
            hash: row.hash,
          })),
        )
        .execute();
    }
    return written;
  }

  async saveRunPrices(prices: readonly RunPrice[]): Promise<void> {
    if (prices.length === 0) return;
    const rows = prices.map((price) => ({
      run_id: price.runId,
      cost_usd: price.costUsd,
      priced_calls: price.pricedCalls,
      unpriced_calls: price.unpricedCalls,
      priced_at: price.pricedAt,
    }));
    await this.#guarded(() =>
      this.#db
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

  async getRunPrice(runId: string): Promise<RunPrice | undefined> {
    const row = await this.#guarded(() =>
      this.#db
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

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    await this.#auditDraining;
    this.#closed = true;
    await this.#onClose();
  }

  #schedule(): void {
    if (this.#scheduled || this.#draining) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined;
        if (this.#queue.length > 0) this.#schedule();
      });
    });
  }

  /** Group commit: every write queued while a commit is in flight goes into the next one. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, MAX_GROUP);
      try {
        await this.#commitGroup(group);
      } catch (error) {
        if (group.length === 1) {
          group[0]?.reject(storeFault(error, this.location));
          continue;
        }
        // One bad write must not fail the others: commit them one by one.
        for (const item of group) {
          try {
            await this.#commitGroup([item]);
          } catch (itemError) {
            item.reject(storeFault(itemError, this.location));
          }
        }
      }
    }
  }

  async #commitGroup(group: QueuedWrite[]): Promise<void> {
    const rejected = new Map<QueuedWrite, KeelError>();
    await this.#transaction(async (db) => {
      const created = group.flatMap((item) => (item.create ? [item.create] : []));
      for (let start = 0; start < created.length; start += INSERT_CHUNK) {
        await db
          .insertInto('keel_runs')
          .values(created.slice(start, start + INSERT_CHUNK))
          .execute();
      }
      const runIds = [...new Set(group.map((item) => item.write.runId))];
      let query = db
        .selectFrom('keel_runs')
        .select(['id', 'status', 'lease_owner', 'claims'])
        .where('id', 'in', runIds);
      if (this.kind === 'postgres') query = query.forUpdate();
      const rows = new Map((await query.execute()).map((row) => [row.id, row]));
      const accepted: QueuedWrite[] = [];
      for (const item of group) {
        const row = rows.get(item.write.runId);
        const guard = item.write.guard;
        const ok =
          item.create !== undefined ||
          (row !== undefined &&
            ('leaseOwner' in guard
              ? row.lease_owner === guard.leaseOwner &&
                row.status === 'running' &&
                (guard.claim === undefined || row.claims === guard.claim)
              : row.status === 'queued'));
        if (ok) accepted.push(item);
        else rejected.set(item, leaseLost(item.write.runId, row?.status));
        if (ok && item.write.finish && row) {
          // Later writes of this group see the run as it will be: finished, lease cleared.
          rows.set(row.id, { ...row, status: item.write.finish.status, lease_owner: null });
        }
      }
      const events = accepted.flatMap((item) =>
        item.write.events.map((event) => ({ runId: item.write.runId, event })),
      );
      for (let start = 0; start < events.length; start += INSERT_CHUNK) {
        await db
          .insertInto('keel_events')
          .values(
            events
              .slice(start, start + INSERT_CHUNK)
              .map(({ runId, event }) => eventRow(runId, event)),
          )
          .execute();
      }
      const audit = accepted.flatMap((item) => item.write.audit ?? []);
      if (audit.length > 0) await this.#insertAudit(db, [audit]);
      for (const item of accepted) {
        const finish = item.write.finish;
        if (!finish) continue;
        await db
          .updateTable('keel_runs')
          .set({
            status: finish.status,
            reason: JSON.stringify(finish.reason),
            output: finish.output,
            input_tokens: finish.inputTokens,
            output_tokens: finish.outputTokens,
            cost_usd: finish.costUsd,
            steps: finish.steps,
            lease_owner: null,
            lease_until: 0,
            updated_at: finish.at,
            finished_at: finish.at,
          })
          .where('id', '=', item.write.runId)
          .execute();
      }
    });
    for (const item of group) {
      const error = rejected.get(item);
      if (error) item.reject(error);
      else item.resolve();
    }
  }

  /** A short write transaction. Never held across a model or tool call: callers pass only SQL. */
  async #transaction<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#guarded(() =>
      this.#db.connection().execute(async (connection) => {
        await sql.raw(this.kind === 'sqlite' ? 'begin immediate' : 'begin').execute(connection);
        try {
          const result = await work(connection);
          await sql.raw('commit').execute(connection);
          return result;
        } catch (error) {
          await sql
            .raw('rollback')
            .execute(connection)
            .catch(() => undefined);
          throw error;
        }
      }),
    );
  }

  async #guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeFault(error, this.location);
    }
  }
}

function isDroppedSchemaRace(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '3F000'
  );
}
