import { afterEach, describe, expect, it } from 'vitest';
import { KeelError, type Clock } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { argumentsHash, createApprovals } from './index.js';

/*
 * Approver tokens over their life: expiry, revocation, rotation, unique names, and the
 * approver's id on every decision (approval record, decision log, audit row).
 */

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;
const ARGS = { orderId: 'A-1', amountCents: 700 };

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function setup() {
  const store = await openStore('sqlite::memory:');
  opened.push(store);
  let now = T0;
  const clock: Clock = { now: () => now };
  const approvals = createApprovals({ store, clock });
  const park = (id: string) =>
    store.approvals.create({
      id,
      runId: `run_${id}`,
      agent: 'refunds',
      step: 0,
      callIndex: 0,
      callId: 'call_0',
      toolName: 'issue_refund',
      args: ARGS,
      argsHash: argumentsHash(ARGS),
      gateReason: { type: 'effect', effect: 'irreversible' },
      approverGroup: 'finance',
      createdAt: now,
      expiresAt: now + 365 * DAY,
      onExpiry: { type: 'deny' },
    });
  return {
    store,
    approvals,
    park,
    advance(ms: number) {
      now += ms;
    },
  };
}

const code = async (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) => (KeelError.isInstance(error) ? error.code : 'not a KeelError'),
  );

describe('approver tokens', () => {
  it('stops accepting a token once it expires', async () => {
    const { approvals, advance } = await setup();
    const { token } = await approvals.addApprover({
      name: 'ana',
      groups: ['finance'],
      expiresInMs: 30 * DAY,
    });
    expect((await approvals.authenticate(token)).name).toBe('ana');
    advance(30 * DAY - 1);
    expect(await code(approvals.authenticate(token))).toBe('ok');
    advance(1);
    expect(await code(approvals.authenticate(token))).toBe('unauthenticated');
  });

  it('refuses a revoked token, also for a decision, and records the refusal', async () => {
    const { approvals, park } = await setup();
    const { token } = await approvals.addApprover({ name: 'ana', groups: ['finance'] });
    const { record } = await park('apr_1');
    await approvals.revokeApprover('ana');
    expect(
      await code(
        approvals.decide({ token, id: record.id, decision: 'approve', argsHash: record.argsHash }),
      ),
    ).toBe('unauthenticated');
    expect((await approvals.get('apr_1')).state).toBe('pending');
  });

  it('rotates a token: the new one works, the old one never again, and the id stays', async () => {
    const { approvals } = await setup();
    const added = await approvals.addApprover({ name: 'ana', groups: ['finance'] });
    const rotated = await approvals.rotateApprover('ana', { expiresInMs: DAY });
    expect(rotated.token).not.toBe(added.token);
    expect(await code(approvals.authenticate(added.token))).toBe('unauthenticated');
    expect((await approvals.authenticate(rotated.token)).id).toBe(added.approver.id);
    expect(rotated.approver.expiresAt).toBe(T0 + DAY);
  });

  it('keeps names unique', async () => {
    const { approvals } = await setup();
    await approvals.addApprover({ name: 'ana', groups: ['finance'] });
    expect(await code(approvals.addApprover({ name: 'ana', groups: ['ops'] }))).toBe(
      'invalid_input',
    );
    expect((await approvals.listApprovers()).map(({ name, groups }) => ({ name, groups }))).toEqual(
      [{ name: 'ana', groups: ['finance'] }],
    );
  });

  it('records the approver id on the approval, the decision log and the audit row', async () => {
    const { approvals, park, store } = await setup();
    const { token, approver } = await approvals.addApprover({ name: 'ana', groups: ['finance'] });
    const { record } = await park('apr_1');
    const decided = await approvals.decide({
      token,
      id: record.id,
      decision: 'approve',
      argsHash: record.argsHash,
    });
    expect(decided.decidedById).toBe(approver.id);
    expect((await approvals.decisions('apr_1')).map(({ actorId }) => actorId)).toEqual([
      approver.id,
    ]);
    const audit = await store.audit.read();
    const decision = audit.find((row) => row.kind === 'approval_decision');
    expect((JSON.parse(decision?.payload ?? '{}') as { actorId?: string }).actorId).toBe(
      approver.id,
    );
  });

  it('audits who may decide: added, rotated and revoked approvers, never a token', async () => {
    const { approvals, store } = await setup();
    const { token } = await approvals.addApprover({ name: 'ana', groups: ['finance'] });
    const rotated = await approvals.rotateApprover('ana');
    await approvals.revokeApprover('ana');
    const audit = await store.audit.read();
    expect(audit.map((row) => row.kind)).toEqual([
      'approver_added',
      'approver_rotated',
      'approver_revoked',
    ]);
    for (const row of audit) {
      expect(row.payload).not.toContain(token);
      expect(row.payload).not.toContain(rotated.token);
    }
  });

  it('refuses a bad lifetime', async () => {
    const { approvals } = await setup();
    expect(
      await code(approvals.addApprover({ name: 'ana', groups: ['finance'], expiresInMs: -5 })),
    ).toBe('invalid_input');
  });
});
