import { CompiledQuery, type Kysely } from 'kysely';
import { KeelError, canonicalJson } from '../core/index.js';
import {
  AUDIT_GENESIS_HASH,
  auditHash,
  signCheckpoint,
  type AuditCheckpoint,
  type AuditCheckpointKind,
  type AuditEntry,
  type AuditLog,
  type NewAuditEntry,
} from './audit-log.js';
import type { Database } from './schema.js';
import type { SqlContext } from './sql-context.js';
import {
  insertAudit,
  selectLastAudit,
  selectPruneCheckpoint,
  type RunStatement,
} from './hot-statements.js';
import { storeFault } from './store-errors.js';

const MAX_GROUP = 2_000;

interface QueuedAppend {
  readonly entries: readonly NewAuditEntry[];
  resolve(rows: AuditEntry[]): void;
  reject(error: unknown): void;
}

/** The `AuditLog` over Kysely: one chain, appends grouped into shared commits. */
export class SqlAuditLog implements AuditLog {
  readonly #sql: SqlContext;
  readonly #queue: QueuedAppend[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly #key: string | undefined;

  constructor(context: SqlContext, key?: string) {
    this.#sql = context;
    this.#key = key;
  }

  get keyed(): boolean {
    return this.#key !== undefined;
  }

  async checkpoint({ at }: { at: number }): Promise<AuditCheckpoint> {
    return this.#sql.transaction(async (db) => {
      const head = await db
        .selectFrom('keel_audit')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return this.#storeCheckpoint(
        db,
        'head',
        head?.seq ?? 0,
        head?.hash ?? AUDIT_GENESIS_HASH,
        at,
      );
    });
  }

  async checkpoints(): Promise<AuditCheckpoint[]> {
    const rows = await this.#sql.guarded(() =>
      this.#sql.db
        .selectFrom('keel_audit_checkpoints')
        .selectAll()
        .orderBy('seq')
        .orderBy('at')
        .execute(),
    );
    return rows.map((row) => ({
      kind: row.kind as AuditCheckpointKind,
      seq: row.seq,
      headHash: row.head_hash,
      at: row.at,
      signature: row.signature,
    }));
  }

  async prune({
    throughSeq,
    at,
    limit = 1_000,
  }: {
    throughSeq: number;
    at: number;
    limit?: number;
  }): Promise<number> {
    return this.#sql.transaction(async (db) => {
      const existing = await db
        .selectFrom('keel_audit_checkpoints')
        .select('seq')
        .where('kind', '=', 'prune')
        .where('seq', '>=', throughSeq)
        .executeTakeFirst();
      if (!existing) {
        const row = await db
          .selectFrom('keel_audit')
          .select('hash')
          .where('seq', '=', throughSeq)
          .executeTakeFirst();
        if (!row) return 0;
        await this.#storeCheckpoint(db, 'prune', throughSeq, row.hash, at);
      }
      const batch = await db
        .selectFrom('keel_audit')
        .select('seq')
        .where('seq', '<=', throughSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      const last = batch.at(-1);
      if (!last) return 0;
      await db.deleteFrom('keel_audit').where('seq', '<=', last.seq).execute();
      return batch.length;
    });
  }

  async #storeCheckpoint(
    db: Kysely<Database>,
    kind: AuditCheckpointKind,
    seq: number,
    headHash: string,
    at: number,
  ): Promise<AuditCheckpoint> {
    const unsigned = { kind, seq, headHash, at };
    const checkpoint: AuditCheckpoint = {
      ...unsigned,
      signature: this.#key === undefined ? null : signCheckpoint(unsigned, this.#key),
    };
    await db
      .insertInto('keel_audit_checkpoints')
      .values({
        id: `${kind}:${seq}:${at}`,
        kind,
        seq,
        head_hash: headHash,
        at,
        signature: checkpoint.signature,
      })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
    return checkpoint;
  }

  append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    if (this.#closed)
      return Promise.reject(
        new KeelError('store_unavailable', `the store at ${this.#sql.location} is closed`),
      );
    if (entries.length === 0) return Promise.resolve([]);
    return new Promise<AuditEntry[]>((resolve, reject) => {
      this.#queue.push({ entries, resolve, reject });
      this.#startDrain();
    });
  }

  #startDrain(): void {
    if (this.#draining) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // An append queued after the last group was taken but before this ran: its own drain.
      if (this.#queue.length > 0) this.#startDrain();
    });
  }

  async read({ afterSeq = 0, limit = 1_000 }: { afterSeq?: number; limit?: number } = {}): Promise<
    AuditEntry[]
  > {
    const rows = await this.#sql.guarded(() =>
      this.#sql.db
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

  /** Refuse new appends once the ones in flight are durable. */
  async close(): Promise<void> {
    while (this.#draining) await this.#draining;
    this.#closed = true;
  }

  /**
   * Insert entries at the end of the chain, inside the caller's transaction (a journal write
   * commits the entries that record its events with them). One chain across processes:
   * appends are serialized by the table lock (PostgreSQL) or by the write lock `begin
   * immediate` takes (SQLite).
   */
  async insertWithin(
    run: RunStatement,
    batches: readonly (readonly NewAuditEntry[])[],
  ): Promise<AuditEntry[][]> {
    if (this.#sql.kind === 'postgres')
      await run(CompiledQuery.raw('lock table keel_audit in exclusive mode'));
    const last = (await run(selectLastAudit())).rows[0];
    // After a pruning that removed every row, the chain goes on from its checkpoint.
    const pruned = last ? undefined : (await run(selectPruneCheckpoint(this.#sql.kind))).rows[0];
    let seq = last?.seq ?? pruned?.seq ?? 0;
    let prevHash = last?.hash ?? pruned?.head_hash ?? AUDIT_GENESIS_HASH;
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
        prevHash = auditHash(row, this.#key);
        return { ...row, hash: prevHash };
      }),
    );
    const rows = written.flat().map((row) => ({
      seq: row.seq,
      at: row.at,
      kind: row.kind,
      run_id: row.runId,
      payload: row.payload,
      prev_hash: row.prevHash,
      hash: row.hash,
    }));
    for (const statement of insertAudit(this.#sql.kind, rows)) await run(statement);
    return written;
  }

  /** Group commit: appends queued during a commit share the next one. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, MAX_GROUP);
      try {
        const written = await this.#sql.write((run) =>
          this.insertWithin(
            run,
            group.map((item) => item.entries),
          ),
        );
        group.forEach((item, index) => {
          item.resolve(written[index] ?? []);
        });
      } catch (error) {
        const fault = storeFault(error, this.#sql.location);
        for (const item of group) item.reject(fault);
      }
    }
  }
}
