import { sql } from 'kysely';
import { KeelError, digest, type AbortableOptions } from '../core/index.js';
import type { RunEvent, StoredEvent } from '../journal/index.js';
import { eventRow, leaseLost, parseEvent, toRecord } from './rows.js';
import type { RunsTable } from './schema.js';
import type { SqlAuditLog } from './sql-audit-log.js';
import type { SqlContext } from './sql-context.js';
import { claimsSpent, endSpentRun, pickCandidate, takeClaim } from './sql-claims.js';
import {
  enginePieces,
  finishRun,
  insertEvents,
  insertRuns,
  notifyReady,
  selectGuardRows,
  type GuardRow,
  withdrawApprovals,
} from './hot-statements.js';
import { storeFault } from './store-errors.js';
import { STORE_SCHEMA_VERSION } from './store.js';
import type {
  ClaimOptions,
  JournalWrite,
  LeaseRenewal,
  ListRunsOptions,
  NewRun,
  RunFinish,
  RunJournalStore,
  RunRecord,
  SuspendRun,
} from './run-journal.js';
import type { NewAuditEntry } from './audit-log.js';

/** Subscribe to a notification channel; resolves to an unsubscribe function. */
export type Listen = (
  channel: string,
  onMessage: (payload: string) => void,
) => Promise<() => Promise<void>>;

/** The channel a PostgreSQL trigger notifies with a run's id when its journal grew. */
export const RUN_EVENTS_CHANNEL = 'keel_run_events';

/** The channel PostgreSQL workers listen on: a run became claimable. */
export const RUN_READY_CHANNEL = 'keel_run_ready';

interface QueuedWrite {
  readonly write: JournalWrite;
  /** Set when the write creates its run: inserted first, in the same commit. */
  readonly create?: RunsTable | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

const MAX_GROUP = 2_000;

/**
 * The run journal over Kysely, for both engines. Two branches only: SQLite takes its write
 * lock up front (`begin immediate`), PostgreSQL claims with `for update skip locked`. Journal
 * writes are grouped: every write queued while a commit is in flight goes into the next one.
 */
export class SqlRunJournal implements RunJournalStore {
  readonly #sql: SqlContext;
  readonly #audit: SqlAuditLog;
  readonly #listen: Listen | undefined;
  readonly #queue: QueuedWrite[] = [];
  #draining: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;

  constructor(
    context: SqlContext,
    options: {
      /** Audit entries carried by a journal write commit with it, on this chain. */
      readonly audit: SqlAuditLog;
      /** PostgreSQL LISTEN on a dedicated connection. */
      readonly listen?: Listen | undefined;
    },
  ) {
    this.#sql = context;
    this.#audit = options.audit;
    this.#listen = options.listen;
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
      ...runMarks(run.events[0]?.event),
    };
    // Through the group commit: a burst of new runs shares commits (and fsyncs).
    await this.#enqueue({ runId: run.id, guard: { status: 'queued' }, events: run.events }, row);
    return toRecord(row);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = await this.#sql.guarded(() =>
      this.#sql.db.selectFrom('keel_runs').selectAll().where('id', '=', runId).executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }

  async listRuns({
    limit = 50,
    statuses,
    agent,
    shadows = 'exclude',
  }: ListRunsOptions = {}): Promise<RunRecord[]> {
    const rows = await this.#sql.guarded(() => {
      let query = this.#sql.db
        .selectFrom('keel_runs')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc');
      if (statuses && statuses.length > 0) query = query.where('status', 'in', [...statuses]);
      if (agent !== undefined) query = query.where('agent', '=', agent);
      if (shadows === 'exclude') query = query.where('shadow_of', 'is', null);
      if (shadows === 'only') query = query.where('shadow_of', 'is not', null);
      return query.limit(limit).execute();
    });
    return rows.map(toRecord);
  }

  async readEvents(
    runId: string,
    { afterSeq = 0 }: { afterSeq?: number } = {},
  ): Promise<StoredEvent[]> {
    const rows = await this.#sql.guarded(() =>
      this.#sql.db
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
      event: parseEvent(row.data, row.schema_version, this.#sql.location, runId, row.seq),
    }));
  }

  append(write: JournalWrite): Promise<void> {
    return this.#enqueue(write, undefined);
  }

  #enqueue(write: JournalWrite, create: RunsTable | undefined): Promise<void> {
    if (this.#closed)
      return Promise.reject(
        new KeelError('store_unavailable', `the store at ${this.#sql.location} is closed`),
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

  async claimNext(options: ClaimOptions): Promise<RunRecord | undefined> {
    const { workerId, now, leaseMs, agents, maxClaims } = options;
    if (agents?.length === 0) return undefined;
    const row = await this.#sql.transaction(async (db) => {
      const candidate = await pickCandidate(db, this.#sql.kind, options);
      if (!candidate) return undefined;
      if (await claimsSpent(db, candidate, maxClaims)) {
        const ended = await endSpentRun(db, {
          runId: candidate.id,
          now,
          location: this.#sql.location,
        });
        // As a run a worker ends: nobody can decide its pending approvals any more.
        await db.executeQuery(withdrawApprovals(this.#sql.kind, ended.id, ended.status, now));
        // Ended by the store, not by a worker's journal write: its audit row lands here.
        await this.#audit.insertWithin(
          (query) => db.executeQuery(query),
          [
            [
              finishAudit(ended.id, {
                status: ended.status as RunFinish['status'],
                reason: JSON.parse(ended.reason ?? 'null') as unknown,
                output: ended.output,
                inputTokens: ended.input_tokens,
                outputTokens: ended.output_tokens,
                costUsd: ended.cost_usd,
                steps: ended.steps,
                at: now,
              }),
            ],
          ],
        );
        return ended;
      }
      return takeClaim(db, { runId: candidate.id, workerId, now, leaseMs });
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
    // A worker holds a different number of runs at every heartbeat: SQLite takes the ids in
    // pieces, so it keeps few shapes of the statement prepared (see `statementPieces`).
    // PostgreSQL locks the rows in id order first, as a journal write's guard read does: each
    // locking them in its own plan's order, the two deadlocked.
    const rows: { id: string; cancel_requested: number }[] = [];
    for (const ids of enginePieces(this.#sql.kind, runIds)) {
      const held =
        this.#sql.kind === 'postgres'
          ? this.#sql.db
              .selectFrom('keel_runs')
              .select('id')
              .where('id', 'in', ids)
              .where('lease_owner', '=', workerId)
              .where('status', '=', 'running')
              .orderBy('id')
              .forNoKeyUpdate()
          : ids;
      const renewed = await this.#sql.guarded(() =>
        this.#sql.db
          .updateTable('keel_runs')
          .set({ lease_until: now + leaseMs })
          .where('id', 'in', held)
          .where('lease_owner', '=', workerId)
          .where('status', '=', 'running')
          .returning(['id', 'cancel_requested'])
          .execute(),
      );
      rows.push(...renewed);
    }
    const held = new Set(rows.map((row) => row.id));
    return {
      lost: runIds.filter((id) => !held.has(id)),
      cancelRequested: rows.filter((row) => row.cancel_requested === 1).map((row) => row.id),
    };
  }

  async releaseLease(runId: string, workerId: string): Promise<void> {
    await this.#sql.transaction(async (db) => {
      const released = await db
        .updateTable('keel_runs')
        .set({ lease_until: 0, lease_owner: null })
        .where('id', '=', runId)
        .where('lease_owner', '=', workerId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      // Another worker takes it over at once rather than at its next poll.
      if (released.numUpdatedRows > 0n && this.#sql.kind === 'postgres')
        await sql`select pg_notify(${RUN_READY_CHANNEL}, ${runId})`.execute(db);
    });
  }

  async requestCancel(runId: string, now: number): Promise<RunRecord | undefined> {
    await this.#sql.guarded(() =>
      this.#sql.db
        .updateTable('keel_runs')
        .set({ cancel_requested: 1, updated_at: now })
        .where('id', '=', runId)
        .where('status', 'in', ['queued', 'running'])
        .execute(),
    );
    // A run waiting on a human holds no lease: queue it so it is ended like any queued run.
    await this.#sql.guarded(() =>
      this.#sql.db
        .updateTable('keel_runs')
        .set({ cancel_requested: 1, status: 'queued', updated_at: now })
        .where('id', '=', runId)
        .where('status', '=', 'waiting')
        .execute(),
    );
    return this.getRun(runId);
  }

  /** Refuse new writes once the ones queued are durable. */
  protected async closeJournal(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  async suspendRun({
    runId,
    leaseOwner,
    claim,
    step,
    callIndexes,
    events,
    now,
  }: SuspendRun): Promise<boolean> {
    return this.#sql.transaction(async (db) => {
      let query = db
        .selectFrom('keel_runs')
        .select(['id', 'status', 'lease_owner', 'claims'])
        .where('id', '=', runId);
      if (this.#sql.kind === 'postgres') query = query.forUpdate();
      const run = await query.executeTakeFirst();
      if (
        !run ||
        run.status !== 'running' ||
        run.lease_owner !== leaseOwner ||
        run.claims !== claim
      )
        throw leaseLost(runId, run?.status);
      const decided = await db
        .selectFrom('keel_approvals')
        .select('id')
        .where('run_id', '=', runId)
        .where('step', '=', step)
        .where('call_index', 'in', [...callIndexes])
        .where('state', 'in', ['approved', 'denied', 'expired'])
        .executeTakeFirst();
      if (decided) return false;
      if (events.length > 0)
        await db
          .insertInto('keel_events')
          .values(events.map((event) => eventRow(runId, event)))
          .execute();
      await db
        .updateTable('keel_runs')
        .set({ status: 'waiting', lease_owner: null, lease_until: 0, updated_at: now })
        .where('id', '=', runId)
        .execute();
      return true;
    });
  }

  async claimRun({
    runId,
    workerId,
    now,
    leaseMs,
  }: Parameters<RunJournalStore['claimRun']>[0]): Promise<RunRecord | undefined> {
    const row = await this.#sql.transaction(async (db) => {
      let query = db
        .selectFrom('keel_runs')
        .select('id')
        .where('id', '=', runId)
        .where('status', '=', 'queued');
      if (this.#sql.kind === 'postgres') query = query.forUpdate().skipLocked();
      if (!(await query.executeTakeFirst())) return undefined;
      return takeClaim(db, { runId, workerId, now, leaseMs });
    });
    return row ? toRecord(row) : undefined;
  }

  async onRunReady(listener: (runId: string) => void): Promise<() => Promise<void>> {
    const listen = this.#listen;
    if (!listen) return () => Promise.resolve();
    return this.#sql.guarded(() => listen(RUN_READY_CHANNEL, listener));
  }

  async onRunEvents(listener: (runId: string) => void): Promise<() => Promise<void>> {
    const listen = this.#listen;
    if (!listen) return () => Promise.resolve();
    return this.#sql.guarded(() => listen(RUN_EVENTS_CHANNEL, listener));
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
          group[0]?.reject(storeFault(error, this.#sql.location));
          continue;
        }
        // One bad write must not fail the others: commit them one by one.
        for (const item of group) {
          try {
            await this.#commitGroup([item]);
          } catch (itemError) {
            item.reject(storeFault(itemError, this.#sql.location));
          }
        }
      }
    }
  }

  async #commitGroup(group: QueuedWrite[]): Promise<void> {
    const rejected = new Map<QueuedWrite, KeelError>();
    const kind = this.#sql.kind;
    await this.#sql.write(async (run) => {
      const created = group.flatMap((item) => (item.create ? [item.create] : []));
      for (const statement of insertRuns(kind, created)) await run(statement);
      // Idle workers elsewhere hear of new queued runs at the commit (polling stays as the
      // fallback); one notification wakes them for the whole group.
      const queued = created.find((row) => row.status === 'queued');
      if (queued && kind === 'postgres') await run(notifyReady(RUN_READY_CHANNEL, queued.id));
      const runIds = [...new Set(group.map((item) => item.write.runId))];
      const rows = new Map<string, GuardRow>();
      for (const statement of selectGuardRows(kind, runIds)) {
        for (const row of (await run(statement)).rows) rows.set(row.id, row);
      }
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
      const eventRows = events.map(({ runId, event }) => eventRow(runId, event));
      for (const statement of insertEvents(kind, eventRows)) await run(statement);
      const audit = accepted.flatMap((item) => [
        ...(item.write.audit ?? []),
        ...(item.write.finish ? [finishAudit(item.write.runId, item.write.finish)] : []),
      ]);
      if (audit.length > 0) await this.#audit.insertWithin(run, [audit]);
      for (const item of accepted) {
        const finish = item.write.finish;
        if (!finish) continue;
        const runId = item.write.runId;
        const reason = JSON.stringify(finish.reason) ?? null;
        await run(finishRun(kind, runId, { ...finish, reason }));
        // A run that ends while it waits on a human (cancelled, timed out) withdraws its
        // approvals: nobody can decide them any more, so they must not stay pending.
        if (finish.approvalsRequested !== false)
          await run(withdrawApprovals(kind, runId, finish.status, finish.at));
      }
    });
    for (const item of group) {
      const error = rejected.get(item);
      if (error) item.reject(error);
      else item.resolve();
    }
  }
}

/** The version and shadow marks a run's `run_started` carries, as the runs table keeps them. */
function runMarks(started: RunEvent | undefined): Pick<RunsTable, 'agent_version' | 'shadow_of'> {
  if (started?.type !== 'run_started') return { agent_version: null, shadow_of: null };
  return { agent_version: started.version ?? null, shadow_of: started.shadowOf ?? null };
}

/**
 * How a run ended, for the audit log: never its output (it may hold personal data), only a
 * digest of it.
 */
function finishAudit(runId: string, finish: RunFinish): NewAuditEntry {
  const reason = finish.reason as { type?: unknown } | null;
  return {
    kind: 'run_finished',
    at: finish.at,
    runId,
    data: {
      status: finish.status,
      reason: typeof reason?.type === 'string' ? reason.type : null,
      steps: finish.steps,
      costUsd: finish.costUsd,
      outputDigest: finish.output === null ? null : digest(finish.output),
    },
  };
}
