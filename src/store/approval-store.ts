import type { ApprovalExpiry } from '../journal/index.js';
import type { NewAuditEntry } from './audit-log.js';

export type { ApprovalExpiry };

/** Every state an approval record can be in. */
export const APPROVAL_STATES = ['pending', 'approved', 'denied', 'expired', 'escalated'] as const;
/** Where an approval stands: pending, decided (approved, denied), expired, or escalated to a second group. */
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** A human decision a run waits on, bound to one tool call's exact arguments. */
export interface ApprovalRecord {
  readonly id: string;
  readonly runId: string;
  readonly agent: string;
  readonly step: number;
  readonly callIndex: number;
  readonly callId: string;
  readonly toolName: string;
  /** The arguments exactly as the model sent them. */
  readonly args: unknown;
  /** Digest of the canonical JSON of `args`: a decision names it, so it cannot be stale. */
  readonly argsHash: string;
  /** Why the call was gated (plain JSON, `type` first). */
  readonly gateReason: unknown;
  /** Who may decide. */
  readonly approverGroup: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly onExpiry: ApprovalExpiry;
  readonly state: ApprovalState;
  readonly decidedBy: string | null;
  /** The deciding approver's id (see `ApproverRecord.id`); null before migration 0016 and for expiries. */
  readonly decidedById: string | null;
  readonly decidedAt: number | null;
  readonly decisionReason: string | null;
  /**
   * Arguments the approver replaced the model's with, as people are shown them (secrets as
   * digests, like `args`).
   */
  readonly editedArgs: unknown;
  /**
   * The edited arguments as the approved call runs with them, secrets included: for the engine
   * only, never shown (`editedArgs` is).
   */
  readonly editedInput: unknown;
  /** The approval this one escalates (it expired undecided). */
  readonly escalatedFrom: string | null;
  readonly notifiedAt: number | null;
  readonly schemaVersion: number;
}

export type NewApproval = Omit<
  ApprovalRecord,
  | 'state'
  | 'decidedBy'
  | 'decidedById'
  | 'decidedAt'
  | 'decisionReason'
  | 'editedArgs'
  | 'editedInput'
  | 'escalatedFrom'
  | 'notifiedAt'
  | 'schemaVersion'
>;

export interface ApprovalDecisionInput {
  readonly id: string;
  readonly decision: 'approved' | 'denied';
  /** The hash of the arguments the decider saw; refused unless it is the record's. */
  readonly argsHash: string;
  /** The groups the decider belongs to; refused unless one is the record's group. */
  readonly deciderGroups: readonly string[];
  readonly decidedBy: string;
  /** The deciding approver's id. */
  readonly decidedById?: string | undefined;
  readonly reason?: string | undefined;
  /** Replacement arguments as people are shown them (secrets redacted). */
  readonly editedArgs?: unknown;
  /** Replacement arguments as the call runs with them, already validated (default: `editedArgs`). */
  readonly editedInput?: unknown;
  readonly now: number;
}

/** One entry of the decision log: every attempt, accepted or refused. */
export interface ApprovalDecisionEntry {
  readonly id: string;
  readonly approvalId: string;
  readonly at: number;
  readonly actor: string;
  /** The approver's id when the actor was an authenticated approver; null otherwise. */
  readonly actorId: string | null;
  readonly decision: 'approved' | 'denied' | 'expired' | 'escalated';
  readonly outcome: 'accepted' | 'refused';
  readonly errorCode: string | null;
  readonly reason: string | null;
  readonly argsHash: string | null;
}

/**
 * What a token may do: a `viewer` reads, an `approver` also decides (and replays and forks), in
 * their groups; an `admin` is an approver of every group.
 */
export const APPROVER_ROLES = ['viewer', 'approver', 'admin'] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];

export interface ApproverRecord {
  /** Stable for the approver's life: a rotated token keeps it; decisions record it. */
  readonly id: string;
  /** Unique in the store, revoked approvers included. */
  readonly name: string;
  readonly groups: readonly string[];
  readonly role: ApproverRole;
  readonly createdAt: number;
  /** When the current token stops working (null: never). */
  readonly expiresAt: number | null;
  /** When the approver was revoked (null: not revoked); a revoked approver's token never works again. */
  readonly revokedAt: number | null;
}

export interface ApprovalListOptions {
  readonly states?: readonly ApprovalState[];
  readonly runId?: string;
  /** Only approvals these groups decide (an empty list: none). */
  readonly groups?: readonly string[] | undefined;
  readonly limit?: number;
}

/** What one expiry sweep did to one approval. */
export interface ApprovalExpiration {
  readonly expired: ApprovalRecord;
  /** Set when the expiry escalated to a second group: the new pending approval. */
  readonly escalation?: ApprovalRecord | undefined;
  /** The decision log's entry for the expiry. */
  readonly entry: ApprovalDecisionEntry;
}

/**
 * Approval records, approvers and the decision log. A run waits on approvals in status
 * `waiting`, holding no lease (`RunJournalStore.suspendRun`); a decision (or an expiry) makes it
 * `queued` again in the same commit, so any worker claims and resumes it. Refusals are `KeelError`s: `not_found`, `forbidden` (wrong group),
 * `conflict` (already decided, expired, or a stale arguments hash).
 *
 * ```ts
 * const pending = await store.approvals.list({ states: ['pending'] });
 * ```
 */
export interface ApprovalStore {
  /**
   * Insert unless an approval with this id exists; returns the stored one either way. `audit`
   * (the request's audit row) is appended in the insert's commit, only when it inserts: no
   * approval exists without its audit row, whenever a process dies.
   */
  create(
    approval: NewApproval,
    options?: { readonly audit?: NewAuditEntry | undefined },
  ): Promise<{ record: ApprovalRecord; created: boolean }>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  list(options?: ApprovalListOptions): Promise<ApprovalRecord[]>;
  /** Approvals of one run's step (a call escalated has several, oldest first). */
  forStep(runId: string, step: number): Promise<ApprovalRecord[]>;
  /**
   * Decide a pending approval; a `waiting` run becomes `queued`, and the decision log gets its
   * entry, in the same commit.
   */
  decide(
    input: ApprovalDecisionInput,
  ): Promise<{ readonly record: ApprovalRecord; readonly entry: ApprovalDecisionEntry }>;
  /** Apply the expiry of every pending approval due at `now` (or only `id`). */
  expireDue(now: number, options?: { readonly id?: string }): Promise<ApprovalExpiration[]>;
  markNotified(id: string, at: number): Promise<void>;
  /** Add an approver; `conflict` when the name is taken (by a revoked approver too). */
  addApprover(approver: {
    readonly id: string;
    readonly tokenHash: string;
    readonly name: string;
    readonly groups: readonly string[];
    /** Default `approver`. */
    readonly role?: ApproverRole | undefined;
    readonly createdAt: number;
    readonly expiresAt?: number | null | undefined;
  }): Promise<void>;
  /** The approver a token hash belongs to, revoked or expired ones included (the caller checks). */
  findApprover(tokenHash: string): Promise<ApproverRecord | undefined>;
  /** Every approver, by name. */
  listApprovers(): Promise<ApproverRecord[]>;
  /** Revoke by name: its token stops working. `not_found`, or `conflict` when already revoked. */
  revokeApprover(name: string, at: number): Promise<ApproverRecord>;
  /**
   * Replace an approver's token (the old one stops working in the same commit) and its expiry.
   * `not_found`, or `conflict` when revoked.
   */
  rotateApprover(input: {
    readonly name: string;
    readonly tokenHash: string;
    readonly expiresAt: number | null;
  }): Promise<ApproverRecord>;
  /** Append a decision attempt (refusals; accepted decisions are logged by `decide`). */
  logDecision(entry: Omit<ApprovalDecisionEntry, 'id'>): Promise<ApprovalDecisionEntry>;
  decisions(approvalId: string): Promise<ApprovalDecisionEntry[]>;
}
