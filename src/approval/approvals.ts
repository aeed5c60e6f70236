import { z } from 'zod';
import {
  KeelError,
  canonicalJson,
  digest,
  once,
  redactSecrets,
  systemClock,
  type Clock,
  type Redactor,
} from '../core/index.js';
import type { Notifier } from '../notify/index.js';
import {
  APPROVER_ROLES,
  type ApprovalDecisionEntry,
  type ApprovalExpiration,
  type ApprovalListOptions,
  type ApprovalRecord,
  type ApproverRecord,
  type ApproverRole,
  type Store,
} from '../store/index.js';
import type { Tool } from '../tools/index.js';
import { approvalNotice } from './approval-notice.js';
import { describeGateReason, type GateDecision } from './gates.js';
import { hashApproverToken, newApproverId, newApproverToken } from './approver-tokens.js';
import { approverSees, requireDecider } from './approver-roles.js';

/** Someone a token identifies: what they may do (`role`) and for whom (`groups`). */
export interface Approver {
  /** Stable across token rotation; every decision records it. Absent for approvers made up in tests. */
  readonly id?: string | undefined;
  readonly name: string;
  readonly groups: readonly string[];
  readonly role: ApproverRole;
}

/** An approver's decision on one approval: who (by token), which, approve or deny, bound to the arguments hash. */
export interface ApprovalDecisionRequest {
  /** The approver's token (bearer token over HTTP, `--token` / `KEEL_APPROVER_TOKEN` in the CLI). */
  readonly token: string | undefined;
  readonly id: string;
  readonly decision: 'approve' | 'deny';
  /** The hash of the arguments the approver saw: the decision is bound to it. */
  readonly argsHash: string;
  readonly reason?: string | undefined;
  /** Approve with these arguments instead (validated against the tool's input schema). */
  readonly editedArgs?: unknown;
}

/** What the approvals API needs: the store, the clock, the tools' schemas and whom to notify. */
export interface ApprovalsOptions {
  readonly store: Store;
  readonly clock?: Clock;
  /** The tool an approval's call names, to validate edited arguments. */
  readonly resolveTool?: ((agent: string, toolName: string) => Tool | undefined) | undefined;
  /** Tells approvers; failures never block a run (see `onNotifyError`). */
  readonly notifier?: Notifier | undefined;
  /** Base URL of the approval API for the decide link. */
  readonly baseUrl?: string | undefined;
  readonly onNotifyError?: ((approvalId: string, error: unknown) => void) | undefined;
  /**
   * How the guard and every gate policy judge edited arguments, as if the model had sent them
   * (the runtime supplies it). A `deny` refuses the edit; a `confirm` for a reason the approval
   * was not asked for refuses it too (that call needs an approval of its own).
   */
  readonly reviewEdit?:
    ((approval: ApprovalRecord, editedArgs: unknown) => Promise<GateDecision>) | undefined;
  /**
   * Patterns of secret text (`createRuntime({ redact })`): redacted, with the tool's
   * `secretFields`, from edited arguments wherever they are shown or audited.
   */
  readonly redact?: readonly Redactor[] | undefined;
  /** Every decision attempt, accepted or refused, after it is recorded. */
  readonly onDecision?: ((entry: ApprovalDecisionEntry) => void) | undefined;
  /** After an accepted decision or an expiry (a run became claimable): wake local workers. */
  readonly onRunReady?: ((runId: string) => void) | undefined;
}

/**
 * Approvals as people use them: list, inspect, decide (authenticated, bound to the arguments'
 * hash), expire, and create approver tokens. Refusals are `KeelError`s: `unauthenticated`,
 * `forbidden`, `not_found`, `conflict` (decided, expired, stale hash), `invalid_input`.
 *
 * ```ts
 * const approvals = createApprovals({ store });
 * const { token } = await approvals.addApprover({ name: 'ana', groups: ['finance'] });
 * await approvals.decide({ token, id, decision: 'approve', argsHash });
 * ```
 */
export interface Approvals {
  /** Approvals, newest first; `groups` keeps those groups' only (see `approverSees`). */
  list(options?: ApprovalListOptions): Promise<ApprovalRecord[]>;
  get(id: string): Promise<ApprovalRecord>;
  authenticate(token: string | undefined): Promise<Approver>;
  decide(options: ApprovalDecisionRequest): Promise<ApprovalRecord>;
  /** Apply expiries due now: deny, escalate (and notify the second group) or end the run. */
  expireDue(): Promise<ApprovalExpiration[]>;
  /** Tell the approval's group (used when a gate creates one, and on escalation). */
  notify(approval: ApprovalRecord): Promise<void>;
  /**
   * Tell again the groups of pending approvals whose notification never went out (the
   * notifier failed, or its process died first) and that are older than `olderThanMs`.
   * Returns how many were retried. At least once: receivers deduplicate by `subject`.
   */
  renotify(options?: { olderThanMs?: number }): Promise<number>;
  /**
   * Create an approver (role `approver` unless given); the token is returned once and stored
   * only hashed. An `admin` needs no group: it sees and decides for every group.
   */
  addApprover(approver: {
    name: string;
    groups: readonly string[];
    role?: ApproverRole | undefined;
    /** How long the token works, in milliseconds (default: until revoked or rotated). */
    expiresInMs?: number | undefined;
  }): Promise<{ token: string; approver: ApproverRecord }>;
  /** Every approver (never a token), by name. */
  listApprovers(): Promise<ApproverRecord[]>;
  /** Revoke an approver by name: its token stops working at once; the name stays taken. */
  revokeApprover(name: string): Promise<ApproverRecord>;
  /**
   * A new token for an approver (same id, groups and role); the old token stops working in the
   * same commit. `expiresInMs` sets the new token's lifetime (default: none).
   */
  rotateApprover(
    name: string,
    options?: { expiresInMs?: number | undefined },
  ): Promise<{ token: string; approver: ApproverRecord }>;
  decisions(id: string): Promise<ApprovalDecisionEntry[]>;
}

// Made at the first edit reviewed, not when Keel is imported.
const editedArgsSchema = once(() => z.record(z.string(), z.unknown()));
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;
/** Longest approval id, arguments hash and reason a decision may name. */
const MAX_ID = 128;
const MAX_ARGS_HASH = 128;
const MAX_REASON = 2_000;
/** How deep edited arguments may nest. */
const MAX_EDIT_DEPTH = 64;
/** Refused attempts without a valid token recorded per minute (the rest are only counted out). */
const UNAUTHENTICATED_RECORDS_PER_MINUTE = 10;

/** The approvals API over a store: list, read, decide (by an approver token) and expire approvals. */
export function createApprovals(options: ApprovalsOptions): Approvals {
  const { store, clock = systemClock } = options;
  const strangers = { windowStart: 0, recorded: 0 };

  /**
   * Whether an attempt without a valid token is recorded: a few per minute, so that a stranger
   * can neither grow the store nor flood the audit log.
   */
  function recordStranger(now: number): boolean {
    if (now - strangers.windowStart >= 60_000) {
      strangers.windowStart = now;
      strangers.recorded = 0;
    }
    strangers.recorded += 1;
    return strangers.recorded <= UNAUTHENTICATED_RECORDS_PER_MINUTE;
  }

  /**
   * The one place every decision attempt is recorded: the store's decision log, the
   * hash-chained audit log (with the run, where known), then the hook.
   */
  async function recordDecision(
    entry: ApprovalDecisionEntry | Omit<ApprovalDecisionEntry, 'id'>,
    runId?: string,
    audited: Record<string, unknown> = {},
  ): Promise<void> {
    const logged = 'id' in entry ? entry : await store.approvals.logDecision(entry);
    await store.audit.append([
      { kind: 'approval_decision', at: logged.at, runId, data: { ...logged, ...audited } },
    ]);
    options.onDecision?.(logged);
  }

  /** Who may decide changed: the audit log says so (never with a token or its hash). */
  async function auditApprover(kind: string, approver: ApproverRecord, at: number): Promise<void> {
    await store.audit.append([{ kind, at, data: approver }]);
  }

  async function authenticate(token: string | undefined): Promise<Approver> {
    if (token === undefined || token.trim() === '') {
      throw new KeelError(
        'unauthenticated',
        'an approver token is required (create one with `keel approvers add`)',
      );
    }
    const approver = await store.approvals.findApprover(hashApproverToken(token.trim()));
    if (!approver) throw new KeelError('unauthenticated', 'the approver token is not valid');
    if (approver.revokedAt !== null)
      throw new KeelError('unauthenticated', `approver ${approver.name} is revoked`);
    if (approver.expiresAt !== null && approver.expiresAt <= clock.now())
      throw new KeelError(
        'unauthenticated',
        `approver ${approver.name}'s token expired (keel approvers rotate ${approver.name} issues a new one)`,
      );
    return { id: approver.id, name: approver.name, groups: approver.groups, role: approver.role };
  }

  async function get(id: string): Promise<ApprovalRecord> {
    const record = await store.approvals.get(id);
    if (!record) throw new KeelError('not_found', `no approval ${id}`);
    return record;
  }

  const approvals: Approvals = {
    list: (listOptions) => store.approvals.list(listOptions),
    get,
    authenticate,

    async decide({ token, id, decision, argsHash, reason, editedArgs }) {
      const at = clock.now();
      const decided = decision === 'approve' ? 'approved' : 'denied';
      let actor = 'unauthenticated';
      let actorId: string | null = null;
      let editAudit: Record<string, unknown> = {};
      try {
        const approver = await authenticate(token);
        actor = approver.name;
        actorId = approver.id ?? null;
        requireDecider(approver);
        if (typeof argsHash !== 'string' || argsHash === '' || argsHash.length > MAX_ARGS_HASH)
          throw new KeelError(
            'invalid_input',
            `a decision must name the arguments hash it approves (argsHash, at most ${MAX_ARGS_HASH} characters)`,
          );
        if (typeof id !== 'string' || id === '' || id.length > MAX_ID)
          throw new KeelError('invalid_input', `an approval id is 1 to ${MAX_ID} characters`);
        if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON))
          throw new KeelError(
            'invalid_input',
            `a decision's reason is text of at most ${MAX_REASON} characters`,
          );
        const record = await get(id);
        // The store checks the group again in the decision's commit; checked here first so an
        // approver outside the group learns nothing, not even whether an edit would pass.
        if (!approverSees(approver, record.approverGroup)) {
          throw new KeelError(
            'forbidden',
            `${approver.name} is not in group "${record.approverGroup}", which decides approval ${record.id}`,
          );
        }
        let edited: unknown;
        if (editedArgs !== undefined) {
          if (decision !== 'approve')
            throw new KeelError('invalid_input', 'only an approval can edit the arguments');
          edited = validateEdit(record, editedArgs);
          // Recorded and shown like the model's arguments: secrets as digests salted with the run.
          editAudit = { args: record.args, editedArgs: shownEdit(record, edited) };
          editAudit.editReview = await reviewEdit(record, edited);
        }
        const { record: result, entry } = await store.approvals.decide({
          id,
          decision: decided,
          argsHash,
          // An admin decides for every group, this one included.
          deciderGroups: approver.role === 'admin' ? [record.approverGroup] : approver.groups,
          decidedBy: approver.name,
          decidedById: approver.id,
          reason,
          editedArgs: edited === undefined ? undefined : shownEdit(record, edited),
          editedInput: edited,
          now: at,
        });
        await recordDecision(entry, result.runId, editAudit);
        options.onRunReady?.(result.runId);
        return result;
      } catch (error) {
        const stranger = actor === 'unauthenticated';
        if (
          KeelError.isInstance(error) &&
          error.code !== 'store_unavailable' &&
          (!stranger || recordStranger(at))
        ) {
          // Bounded, whoever sent it: nothing a stranger chose is kept but a clipped id.
          const bounded = (text: unknown, max: number) =>
            typeof text === 'string' ? text.slice(0, max) : null;
          await recordDecision(
            {
              approvalId: bounded(id, MAX_ID) ?? '',
              at,
              actor,
              actorId,
              decision: decided,
              outcome: 'refused',
              errorCode: error.code,
              reason: error.message.slice(0, MAX_REASON),
              argsHash: stranger ? null : bounded(argsHash, MAX_ARGS_HASH),
            },
            undefined,
            editAudit,
          ).catch(() => undefined);
        }
        throw error;
      }
    },

    async expireDue() {
      const expirations = await store.approvals.expireDue(clock.now());
      for (const { expired, escalation, entry } of expirations) {
        await recordDecision(entry, expired.runId);
        if (escalation) void approvals.notify(escalation);
        else options.onRunReady?.(expired.runId);
      }
      return expirations;
    },

    async notify(approval) {
      if (!options.notifier) return;
      try {
        await options.notifier.notify(approvalNotice(approval, { baseUrl: options.baseUrl }));
        await store.approvals.markNotified(approval.id, clock.now());
      } catch (error) {
        options.onNotifyError?.(approval.id, error);
      }
    },

    async renotify({ olderThanMs = 30_000 } = {}) {
      if (!options.notifier) return 0;
      const cutoff = clock.now() - olderThanMs;
      const stale = (await store.approvals.list({ states: ['pending'], limit: 200 })).filter(
        (approval) => approval.notifiedAt === null && approval.createdAt <= cutoff,
      );
      for (const approval of stale) await approvals.notify(approval);
      return stale.length;
    },

    async addApprover({ name, groups, role = 'approver', expiresInMs }) {
      if (typeof name !== 'string' || !NAME.test(name))
        throw new KeelError(
          'invalid_input',
          'an approver name is letters, digits, _ . @ - (at most 64)',
        );
      if (!(APPROVER_ROLES as readonly string[]).includes(role))
        throw new KeelError('invalid_input', `a role is one of ${APPROVER_ROLES.join(', ')}`);
      if (
        !Array.isArray(groups) ||
        (groups.length === 0 && role !== 'admin') ||
        groups.some((group) => typeof group !== 'string' || !NAME.test(group))
      )
        throw new KeelError(
          'invalid_input',
          'an approver needs at least one group (letters, digits, _ . -)',
        );
      const now = clock.now();
      const token = newApproverToken();
      const approver: ApproverRecord = {
        id: newApproverId(),
        name,
        groups: groups.slice(),
        role,
        createdAt: now,
        expiresAt: expiryAt(now, expiresInMs),
        revokedAt: null,
      };
      await store.approvals.addApprover({ ...approver, tokenHash: hashApproverToken(token) });
      await auditApprover('approver_added', approver, now);
      return { token, approver };
    },

    listApprovers: () => store.approvals.listApprovers(),

    async revokeApprover(name) {
      const now = clock.now();
      const approver = await store.approvals.revokeApprover(name, now);
      await auditApprover('approver_revoked', approver, now);
      return approver;
    },

    async rotateApprover(name, { expiresInMs } = {}) {
      const now = clock.now();
      const token = newApproverToken();
      const approver = await store.approvals.rotateApprover({
        name,
        tokenHash: hashApproverToken(token),
        expiresAt: expiryAt(now, expiresInMs),
      });
      await auditApprover('approver_rotated', approver, now);
      return { token, approver };
    },

    decisions: (id) => store.approvals.decisions(id),
  };

  /** Edited arguments as people are shown them: the tool's secret fields and patterns redacted. */
  function shownEdit(record: ApprovalRecord, edited: unknown): unknown {
    return redactSecrets(edited, {
      paths: options.resolveTool?.(record.agent, record.toolName)?.secretFields.input ?? [],
      redactors: options.redact ?? [],
      salt: record.runId,
    });
  }

  function validateEdit(record: ApprovalRecord, editedArgs: unknown): unknown {
    const shape = editedArgsSchema().safeParse(editedArgs);
    if (!shape.success)
      throw new KeelError('invalid_input', 'edited arguments must be a JSON object');
    if (nestingDepth(editedArgs, MAX_EDIT_DEPTH) > MAX_EDIT_DEPTH)
      throw new KeelError(
        'invalid_input',
        `edited arguments nest deeper than ${MAX_EDIT_DEPTH} levels`,
      );
    const tool = options.resolveTool?.(record.agent, record.toolName);
    if (!tool) {
      throw new KeelError(
        'conflict',
        `cannot validate edited arguments: tool "${record.toolName}" of agent "${record.agent}" is not loaded here`,
      );
    }
    const parsed = tool.input.safeParse(editedArgs);
    if (!parsed.success) {
      throw new KeelError(
        'invalid_input',
        `edited arguments do not match ${record.toolName}'s input schema: ${z.prettifyError(parsed.error)}`,
      );
    }
    return editedArgs;
  }

  /**
   * The guard and every gate policy on the edited call: what they said, for the audit row.
   * Throws `forbidden` on a deny, or on a confirm for a reason this approval was not asked for.
   */
  async function reviewEdit(
    record: ApprovalRecord,
    edited: unknown,
  ): Promise<Record<string, unknown>> {
    if (!options.reviewEdit) {
      throw new KeelError(
        'conflict',
        `cannot check edited arguments against agent "${record.agent}"'s policies: it is not loaded here`,
      );
    }
    const decision = await options.reviewEdit(record, edited);
    const verdicts = (decision.records ?? []).map(({ policy, rule, verdict }) => ({
      policy,
      rule,
      verdict,
    }));
    if (decision.type === 'deny') {
      throw new KeelError(
        'forbidden',
        `the edited arguments are refused: ${describeGateReason(decision.reason)}`,
      );
    }
    if (decision.type === 'allow') return { decision: 'allow', verdicts };
    // What the model's own call was asked for: the same reasons on the edit are this approval's.
    const original = await options.reviewEdit(record, record.args);
    const asked = new Set(
      [record.gateReason, ...(original.type === 'confirm' ? original.reasons : [])].map((reason) =>
        canonicalJson(reason),
      ),
    );
    const other = decision.reasons.find((reason) => !asked.has(canonicalJson(reason)));
    if (other !== undefined) {
      throw new KeelError(
        'forbidden',
        `the edited arguments need an approval of their own (${describeGateReason(other)}): deny this one instead`,
      );
    }
    return { decision: 'confirm', reasons: decision.reasons, verdicts };
  }

  return approvals;
}

function expiryAt(now: number, expiresInMs: number | undefined): number | null {
  if (expiresInMs === undefined) return null;
  if (!Number.isSafeInteger(expiresInMs) || expiresInMs <= 0)
    throw new KeelError('invalid_input', 'a token lifetime is a positive number of milliseconds');
  return now + expiresInMs;
}

/** How deep `value` nests, counting no further than `max + 1` (iterative: any depth is safe). */
function nestingDepth(value: unknown, max: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > max) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** The hash a decision must name: digest of the arguments' canonical JSON. */
export function argumentsHash(args: unknown): string {
  return digest(canonicalJson(args));
}
