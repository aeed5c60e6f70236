import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { KeelError } from '../core/index.js';
import type {
  ApprovalDecisionEntry,
  ApprovalDecisionInput,
  ApprovalListOptions,
  ApprovalExpiration,
  ApprovalExpiry,
  ApprovalRecord,
  ApprovalState,
  ApprovalStore,
  ApproverRecord,
  ApproverRole,
  NewApproval,
} from './approval-store.js';
import { APPROVER_ROLES } from './approval-store.js';
import type { ApprovalsTable, ApproversTable, Database } from './schema.js';
import type { SqlContext } from './sql-context.js';
import type { SqlAuditLog } from './sql-audit-log.js';
import type { NewAuditEntry } from './audit-log.js';
import { RUN_READY_CHANNEL } from './sql-run-journal.js';
import { STORE_SCHEMA_VERSION } from './store.js';

const EXPIRY_ACTOR = 'keel:expiry';
const EXPIRY_BATCH = 100;

/** The `ApprovalStore` over Kysely, sharing the run journal's connections and transactions. */
export class SqlApprovalStore implements ApprovalStore {
  readonly #db: Kysely<Database>;
  readonly #kind: 'sqlite' | 'postgres';
  readonly #transaction: SqlContext['transaction'];
  readonly #guarded: SqlContext['guarded'];
  readonly #audit: SqlAuditLog;

  constructor(context: SqlContext, audit: SqlAuditLog) {
    this.#audit = audit;
    this.#db = context.db;
    this.#kind = context.kind;
    this.#transaction = context.transaction;
    this.#guarded = context.guarded;
  }

  async create(
    approval: NewApproval,
    { audit }: { readonly audit?: NewAuditEntry | undefined } = {},
  ): Promise<{ record: ApprovalRecord; created: boolean }> {
    const inserted = await this.#transaction(async (db) => {
      const result = await db
        .insertInto('keel_approvals')
        .values(approvalRow(approval, null))
        .onConflict((conflict) => conflict.column('id').doNothing())
        .executeTakeFirst();
      const created = Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
      if (created && audit)
        await this.#audit.insertWithin((query) => db.executeQuery(query), [[audit]]);
      return created;
    });
    const record = await this.get(approval.id);
    if (!record) throw new KeelError('internal', `approval ${approval.id} vanished after insert`);
    return { record, created: inserted };
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db.selectFrom('keel_approvals').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? toApproval(row) : undefined;
  }

  async list({ states, runId, groups, limit = 100 }: ApprovalListOptions = {}): Promise<
    ApprovalRecord[]
  > {
    if (groups?.length === 0) return [];
    const rows = await this.#guarded(() => {
      let query = this.#db
        .selectFrom('keel_approvals')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc');
      if (states && states.length > 0) query = query.where('state', 'in', [...states]);
      if (runId !== undefined) query = query.where('run_id', '=', runId);
      if (groups) query = query.where('approver_group', 'in', [...groups]);
      return query.limit(limit).execute();
    });
    return rows.map(toApproval);
  }

  async forStep(runId: string, step: number): Promise<ApprovalRecord[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_approvals')
        .selectAll()
        .where('run_id', '=', runId)
        .where('step', '=', step)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
    );
    return rows.map(toApproval);
  }

  async decide(
    input: ApprovalDecisionInput,
  ): Promise<{ record: ApprovalRecord; entry: ApprovalDecisionEntry }> {
    // An approval past its deadline expires first, so it can never be approved afterwards.
    await this.expireDue(input.now, { id: input.id });
    return this.#transaction(async (db) => {
      const row = await this.#lockApproval(db, input.id);
      if (!row) throw new KeelError('not_found', `no approval ${input.id}`);
      const current = toApproval(row);
      if (!input.deciderGroups.includes(current.approverGroup)) {
        throw new KeelError(
          'forbidden',
          `${input.decidedBy} is not in group "${current.approverGroup}", which decides approval ${current.id}`,
        );
      }
      if (current.state !== 'pending') {
        throw new KeelError(
          'conflict',
          `approval ${current.id} is already ${describeState(current)}`,
        );
      }
      const run = await db
        .selectFrom('keel_runs')
        .select('status')
        .where('id', '=', current.runId)
        .executeTakeFirst();
      if (
        run &&
        ['succeeded', 'failed', 'stopped', 'escalated', 'cancelled'].includes(run.status)
      ) {
        throw new KeelError(
          'conflict',
          `approval ${current.id}: its run ${current.runId} has already ended (${run.status})`,
        );
      }
      if (input.argsHash !== current.argsHash) {
        throw new KeelError(
          'conflict',
          `approval ${current.id}: the decision names arguments ${input.argsHash}, but the call's are ${current.argsHash} (stale or replayed decision)`,
        );
      }
      await db
        .updateTable('keel_approvals')
        .set({
          state: input.decision,
          decided_by: input.decidedBy,
          decided_by_id: input.decidedById ?? null,
          decided_at: input.now,
          decision_reason: input.reason ?? null,
          edited_args: input.editedArgs === undefined ? null : JSON.stringify(input.editedArgs),
          edited_input:
            input.editedArgs === undefined
              ? null
              : JSON.stringify(input.editedInput ?? input.editedArgs),
        })
        .where('id', '=', current.id)
        .where('state', '=', 'pending')
        .execute();
      const entry = await insertDecision(db, {
        approvalId: current.id,
        at: input.now,
        actor: input.decidedBy,
        actorId: input.decidedById ?? null,
        decision: input.decision,
        outcome: 'accepted',
        errorCode: null,
        reason: input.reason ?? null,
        argsHash: input.argsHash,
      });
      await this.#wakeRun(db, current.runId, input.now);
      const decided = await db
        .selectFrom('keel_approvals')
        .selectAll()
        .where('id', '=', current.id)
        .executeTakeFirstOrThrow();
      return { record: toApproval(decided), entry };
    });
  }

  async expireDue(now: number, { id }: { id?: string } = {}): Promise<ApprovalExpiration[]> {
    const due = await this.#guarded(() => {
      let query = this.#db
        .selectFrom('keel_approvals')
        .select('id')
        .where('state', '=', 'pending')
        .where('expires_at', '<=', now)
        .orderBy('expires_at')
        .limit(EXPIRY_BATCH);
      if (id !== undefined) query = query.where('id', '=', id);
      return query.execute();
    });
    const expirations: ApprovalExpiration[] = [];
    for (const { id: dueId } of due) {
      const expiration = await this.#transaction(async (db) => {
        const row = await this.#lockApproval(db, dueId);
        if (!row || row.state !== 'pending' || row.expires_at > now) return undefined;
        const approval = toApproval(row);
        const escalate = approval.onExpiry.type === 'escalate' ? approval.onExpiry : undefined;
        await db
          .updateTable('keel_approvals')
          .set({
            state: escalate ? 'escalated' : 'expired',
            decided_by: EXPIRY_ACTOR,
            decided_at: now,
          })
          .where('id', '=', dueId)
          .execute();
        const entry = await insertDecision(db, {
          approvalId: dueId,
          at: now,
          actor: EXPIRY_ACTOR,
          actorId: null,
          decision: escalate ? 'escalated' : 'expired',
          outcome: 'accepted',
          errorCode: null,
          reason: escalate ? `escalated to group "${escalate.approverGroup}"` : 'expired undecided',
          argsHash: approval.argsHash,
        });
        const expired = toApproval(
          await db
            .selectFrom('keel_approvals')
            .selectAll()
            .where('id', '=', dueId)
            .executeTakeFirstOrThrow(),
        );
        if (!escalate) {
          await this.#wakeRun(db, approval.runId, now);
          return { expired, entry };
        }
        const next: NewApproval = {
          ...approval,
          id: `${approval.id}.${escalationDepth(approval.id) + 1}`,
          approverGroup: escalate.approverGroup,
          createdAt: now,
          expiresAt: now + escalate.expiresAfterMs,
          onExpiry: escalate.then,
        };
        await db.insertInto('keel_approvals').values(approvalRow(next, approval.id)).execute();
        // The escalated approval is a new request: its audit row lands in the same commit.
        await this.#audit.insertWithin(
          (query) => db.executeQuery(query),
          [
            [
              {
                kind: 'approval_requested',
                at: now,
                runId: approval.runId,
                data: {
                  approvalId: next.id,
                  toolName: next.toolName,
                  argsHash: next.argsHash,
                  gateReason: next.gateReason,
                  approverGroup: next.approverGroup,
                  expiresAt: next.expiresAt,
                  escalatedFrom: approval.id,
                },
              },
            ],
          ],
        );
        const escalation = toApproval(
          await db
            .selectFrom('keel_approvals')
            .selectAll()
            .where('id', '=', next.id)
            .executeTakeFirstOrThrow(),
        );
        return { expired, escalation, entry };
      });
      if (expiration) expirations.push(expiration);
    }
    return expirations;
  }

  async markNotified(id: string, at: number): Promise<void> {
    await this.#guarded(() =>
      this.#db
        .updateTable('keel_approvals')
        .set({ notified_at: at })
        .where('id', '=', id)
        .execute(),
    );
  }

  async addApprover({
    id,
    tokenHash,
    name,
    groups,
    role = 'approver',
    createdAt,
    expiresAt = null,
  }: Parameters<ApprovalStore['addApprover']>[0]): Promise<void> {
    await this.#transaction(async (db) => {
      // The unique index is the guarantee; this check gives the clear error.
      const taken = await db
        .selectFrom('keel_approvers')
        .select('name')
        .where('name', '=', name)
        .executeTakeFirst();
      if (taken)
        throw new KeelError(
          'invalid_input',
          `an approver named ${name} exists (names stay unique, revoked ones included): rotate its token or pick another name`,
        );
      await db
        .insertInto('keel_approvers')
        .values({
          id,
          token_hash: tokenHash,
          name,
          groups: JSON.stringify(groups),
          role,
          created_at: createdAt,
          expires_at: expiresAt,
          revoked_at: null,
        })
        .execute();
    });
  }

  async findApprover(tokenHash: string): Promise<ApproverRecord | undefined> {
    const row = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_approvers')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst(),
    );
    return row ? toApprover(row) : undefined;
  }

  async listApprovers(): Promise<ApproverRecord[]> {
    const rows = await this.#guarded(() =>
      this.#db.selectFrom('keel_approvers').selectAll().orderBy('name').execute(),
    );
    return rows.map(toApprover);
  }

  async revokeApprover(name: string, at: number): Promise<ApproverRecord> {
    return this.#transaction(async (db) => {
      const current = await this.#approverNamed(db, name);
      if (current.revokedAt !== null)
        throw new KeelError('conflict', `approver ${name} is already revoked`);
      await db
        .updateTable('keel_approvers')
        .set({ revoked_at: at })
        .where('name', '=', name)
        .execute();
      return { ...current, revokedAt: at };
    });
  }

  async rotateApprover({
    name,
    tokenHash,
    expiresAt,
  }: Parameters<ApprovalStore['rotateApprover']>[0]): Promise<ApproverRecord> {
    return this.#transaction(async (db) => {
      const current = await this.#approverNamed(db, name);
      if (current.revokedAt !== null)
        throw new KeelError('conflict', `approver ${name} is revoked: add a new approver instead`);
      await db
        .updateTable('keel_approvers')
        .set({ token_hash: tokenHash, expires_at: expiresAt })
        .where('name', '=', name)
        .execute();
      return { ...current, expiresAt };
    });
  }

  async #approverNamed(db: Kysely<Database>, name: string): Promise<ApproverRecord> {
    const row = await db
      .selectFrom('keel_approvers')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new KeelError('not_found', `no approver named ${name}`);
    return toApprover(row);
  }

  async logDecision(entry: Omit<ApprovalDecisionEntry, 'id'>): Promise<ApprovalDecisionEntry> {
    return this.#guarded(() => insertDecision(this.#db, entry));
  }

  async decisions(approvalId: string): Promise<ApprovalDecisionEntry[]> {
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_approval_decisions')
        .selectAll()
        .where('approval_id', '=', approvalId)
        .orderBy('at')
        .orderBy('id')
        .execute(),
    );
    return rows.map((row) => ({
      id: row.id,
      approvalId: row.approval_id,
      at: row.at,
      actor: row.actor,
      actorId: row.actor_id ?? null,
      decision: row.decision as ApprovalDecisionEntry['decision'],
      outcome: row.outcome as ApprovalDecisionEntry['outcome'],
      errorCode: row.error_code,
      reason: row.reason,
      argsHash: row.args_hash,
    }));
  }

  /** Lock order everywhere: the run's row, then the approval's (no deadlock with `suspend`). */
  async #lockApproval(
    db: Kysely<Database>,
    id: string,
  ): Promise<Selectable<ApprovalsTable> | undefined> {
    const peek = await db
      .selectFrom('keel_approvals')
      .select('run_id')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!peek) return undefined;
    if (this.#kind === 'postgres') {
      await db
        .selectFrom('keel_runs')
        .select('id')
        .where('id', '=', peek.run_id)
        .forUpdate()
        .execute();
    }
    let query = db.selectFrom('keel_approvals').selectAll().where('id', '=', id);
    if (this.#kind === 'postgres') query = query.forUpdate();
    return query.executeTakeFirst();
  }

  /** A parked run becomes claimable; PostgreSQL listeners hear of it when this commits. */
  async #wakeRun(db: Kysely<Database>, runId: string, now: number): Promise<void> {
    const woken = await db
      .updateTable('keel_runs')
      .set({ status: 'queued', updated_at: now })
      .where('id', '=', runId)
      .where('status', '=', 'waiting')
      .executeTakeFirst();
    if (this.#kind === 'postgres' && Number(woken.numUpdatedRows) > 0) {
      await sql`select pg_notify(${RUN_READY_CHANNEL}, ${runId})`.execute(db);
    }
  }
}

function approvalRow(approval: NewApproval, escalatedFrom: string | null): ApprovalsTable {
  return {
    id: approval.id,
    run_id: approval.runId,
    agent: approval.agent,
    step: approval.step,
    call_index: approval.callIndex,
    call_id: approval.callId,
    tool_name: approval.toolName,
    args: JSON.stringify(approval.args),
    args_hash: approval.argsHash,
    gate_reason: JSON.stringify(approval.gateReason),
    approver_group: approval.approverGroup,
    created_at: approval.createdAt,
    expires_at: approval.expiresAt,
    on_expiry: JSON.stringify(approval.onExpiry),
    state: 'pending',
    decided_by: null,
    decided_by_id: null,
    decided_at: null,
    decision_reason: null,
    edited_args: null,
    edited_input: null,
    escalated_from: escalatedFrom,
    notified_at: null,
    schema_version: STORE_SCHEMA_VERSION,
  };
}

function toApproval(row: Selectable<ApprovalsTable>): ApprovalRecord {
  return {
    id: row.id,
    runId: row.run_id,
    agent: row.agent,
    step: row.step,
    callIndex: row.call_index,
    callId: row.call_id,
    toolName: row.tool_name,
    args: JSON.parse(row.args) as unknown,
    argsHash: row.args_hash,
    gateReason: JSON.parse(row.gate_reason) as unknown,
    approverGroup: row.approver_group,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    onExpiry: JSON.parse(row.on_expiry) as ApprovalExpiry,
    state: row.state as ApprovalState,
    decidedBy: row.decided_by,
    decidedById: row.decided_by_id ?? null,
    decidedAt: row.decided_at,
    decisionReason: row.decision_reason,
    editedArgs: row.edited_args === null ? undefined : (JSON.parse(row.edited_args) as unknown),
    // Decided before migration 0018: the one copy is the input.
    editedInput:
      (row.edited_input ?? row.edited_args) === null
        ? undefined
        : (JSON.parse(row.edited_input ?? row.edited_args ?? 'null') as unknown),
    escalatedFrom: row.escalated_from,
    notifiedAt: row.notified_at,
    schemaVersion: row.schema_version,
  };
}

let decisionCounter = 0;

/** Sorts by time, then by order within this process. */
function decisionId(at: number): string {
  decisionCounter = (decisionCounter + 1) % 1_000_000;
  return `dec_${String(at).padStart(15, '0')}_${String(decisionCounter).padStart(6, '0')}_${randomUUID().slice(0, 8)}`;
}

async function insertDecision(
  db: Kysely<Database>,
  entry: Omit<ApprovalDecisionEntry, 'id'>,
): Promise<ApprovalDecisionEntry> {
  const id = decisionId(entry.at);
  await db
    .insertInto('keel_approval_decisions')
    .values({
      id,
      approval_id: entry.approvalId,
      at: entry.at,
      actor: entry.actor,
      actor_id: entry.actorId,
      decision: entry.decision,
      outcome: entry.outcome,
      error_code: entry.errorCode,
      reason: entry.reason,
      args_hash: entry.argsHash,
    })
    .execute();
  return { id, ...entry };
}

function describeState(approval: ApprovalRecord): string {
  switch (approval.state) {
    case 'expired':
      // Withdrawn when its run ended (cancelled, timed out): say so, with the run's end.
      return approval.decisionReason?.startsWith('withdrawn: ')
        ? `withdrawn: its run ${approval.runId} has already ended (${approval.decisionReason.replace(/^withdrawn: the run ended /, '')})`
        : 'expired: it can no longer be decided';
    case 'escalated':
      return 'escalated to another group: decide the escalated approval instead';
    case 'pending':
      return 'pending';
    case 'approved':
    case 'denied':
      return `${approval.state} by ${approval.decidedBy ?? 'unknown'}`;
    default:
      approval.state satisfies never;
      return approval.state;
  }
}

function toApprover(row: Selectable<ApproversTable>): ApproverRecord {
  return {
    id: row.id ?? `apv_${row.token_hash.slice(0, 16)}`,
    name: row.name,
    groups: JSON.parse(row.groups) as string[],
    role: toRole(row.role),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** A role as stored; anything unknown reads as the least privilege. */
function toRole(value: string): ApproverRole {
  return (APPROVER_ROLES as readonly string[]).includes(value) ? (value as ApproverRole) : 'viewer';
}

function escalationDepth(id: string): number {
  const match = /\.(\d+)$/.exec(id);
  return match ? Number(match[1]) : 1;
}
