import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type NewApproval, type Store } from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/*
 * The approval store's contract, on SQLite and PostgreSQL: a decision and the parking of its
 * run may come in either order, and the run must end up claimable exactly when it should.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = storeTargets(locations, 'keel_as');

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0).reverse()) await store.close();
});

function approval(runId: string, overrides: Partial<NewApproval> = {}): NewApproval {
  return {
    id: `apr_${runId}`,
    runId,
    agent: 'refunds',
    step: 0,
    callIndex: 0,
    callId: 'call_0',
    toolName: 'issue_refund',
    args: { orderId: 'A-1' },
    argsHash: 'hash-a1',
    gateReason: { type: 'effect', effect: 'irreversible' },
    approverGroup: 'finance',
    createdAt: T0,
    expiresAt: T0 + 60_000,
    onExpiry: { type: 'deny' },
    ...overrides,
  };
}

const DECISION = {
  decision: 'approved',
  argsHash: 'hash-a1',
  deciderGroups: ['finance'],
  decidedBy: 'ana',
  now: T0 + 1_000,
} as const;

for (const backend of BACKENDS) {
  describe(`approval store (${backend.name})`, () => {
    async function open(): Promise<Store> {
      const store = await openStore(backend.url());
      opened.push(store);
      return store;
    }

    async function runningRun(store: Store, id: string, leaseUntil = T0 + 30_000): Promise<void> {
      await store.createRun({
        id,
        agent: 'refunds',
        task: 'Refund A-1',
        createdAt: T0,
        events: [
          { seq: 1, at: T0, event: { type: 'run_claimed', workerId: 'worker-a', claim: 1 } },
        ],
        claimBy: { workerId: 'worker-a', leaseUntil },
      });
    }

    const suspend = (store: Store, runId: string) =>
      store.suspendRun({
        runId,
        leaseOwner: 'worker-a',
        claim: 1,
        step: 0,
        callIndexes: [0],
        events: [
          {
            seq: 2,
            at: T0 + 10,
            event: { type: 'run_suspended', workerId: 'worker-a', approvalIds: [], at: T0 + 10 },
          },
        ],
        now: T0 + 10,
      });

    it('withdraws the pending approvals of a run the store ends at a claim (its workers all lost)', async () => {
      const store = await open();
      // Its lease long expired: the worker that held it is gone.
      await runningRun(store, 'run_spent', T0 + 1);
      await store.approvals.create(approval('run_spent'));
      const claim = { now: T0 + 60_000, leaseMs: 30_000, maxClaims: 0 };
      const ended = await store.claimNext({ ...claim, workerId: 'worker-b' });
      expect({ status: ended?.status, reason: ended?.reason }).toEqual({
        status: 'failed',
        reason: { type: 'worker_lost', attempts: 1 },
      });
      expect(await store.approvals.get('apr_run_spent')).toMatchObject({
        state: 'expired',
        decidedBy: 'keel:run-ended',
        decisionReason: 'withdrawn: the run ended failed',
      });
    });

    it('writes an approval and its audit row in one commit, once', async () => {
      const store = await open();
      await runningRun(store, 'run_a');
      const audit = {
        kind: 'approval_requested',
        at: T0,
        runId: 'run_a',
        data: { approvalId: 'apr_run_a' },
      };
      expect((await store.approvals.create(approval('run_a'), { audit })).created).toBe(true);
      expect((await store.approvals.create(approval('run_a'), { audit })).created).toBe(false);
      const rows = await store.audit.read();
      expect(rows.filter((row) => row.kind === 'approval_requested')).toHaveLength(1);
    });

    it('audits an escalated approval as a request in the commit that escalates it', async () => {
      const store = await open();
      await runningRun(store, 'run_e');
      await store.approvals.create(
        approval('run_e', {
          expiresAt: T0 + 100,
          onExpiry: {
            type: 'escalate',
            approverGroup: 'managers',
            expiresAfterMs: 1_000,
            then: { type: 'deny' },
          },
        }),
      );
      const [expiration] = await store.approvals.expireDue(T0 + 200);
      expect(expiration?.escalation?.approverGroup).toBe('managers');
      const requested = (await store.audit.read()).filter(
        (row) => row.kind === 'approval_requested',
      );
      expect(requested).toHaveLength(1);
      expect(JSON.parse(requested[0]?.payload ?? 'null')).toMatchObject({
        approvalId: expiration?.escalation?.id,
        approverGroup: 'managers',
        escalatedFrom: 'apr_run_e',
      });
    });

    it('parks a run (waiting, no lease, not claimable) and a decision queues it again', async () => {
      const store = await open();
      await runningRun(store, 'run_1');
      const created = await store.approvals.create(approval('run_1'));
      expect(created.created).toBe(true);
      expect((await store.approvals.create(approval('run_1'))).created).toBe(false);
      expect(await suspend(store, 'run_1')).toBe(true);
      expect(await store.getRun('run_1')).toMatchObject({ status: 'waiting', leaseOwner: null });
      expect((await store.readEvents('run_1')).map((entry) => entry.event.type)).toEqual([
        'run_claimed',
        'run_suspended',
      ]);
      expect(
        await store.claimNext({ workerId: 'worker-b', now: T0 + 100_000, leaseMs: 1_000 }),
      ).toBeUndefined();
      const { record, entry } = await store.approvals.decide({ id: 'apr_run_1', ...DECISION });
      expect(record).toMatchObject({ state: 'approved', decidedBy: 'ana', decidedAt: T0 + 1_000 });
      expect(entry).toMatchObject({ approvalId: 'apr_run_1', outcome: 'accepted', actor: 'ana' });
      expect((await store.getRun('run_1'))?.status).toBe('queued');
      expect(
        (await store.claimNext({ workerId: 'worker-b', now: T0 + 2_000, leaseMs: 1_000 }))?.id,
      ).toBe('run_1');
    });

    it('does not park a run whose call was decided before it could park', async () => {
      const store = await open();
      await runningRun(store, 'run_2');
      await store.approvals.create(approval('run_2'));
      await store.approvals.decide({ id: 'apr_run_2', ...DECISION });
      // Decided while its worker still held it: the run stays with that worker.
      expect((await store.getRun('run_2'))?.status).toBe('running');
      expect(await suspend(store, 'run_2')).toBe(false);
      expect((await store.getRun('run_2'))?.status).toBe('running');
      expect((await store.readEvents('run_2')).map((entry) => entry.event.type)).toEqual([
        'run_claimed',
      ]);
    });

    it('refuses to park a run for a worker that does not hold it', async () => {
      const store = await open();
      await runningRun(store, 'run_3');
      await store.approvals.create(approval('run_3'));
      const refused = await store
        .suspendRun({
          runId: 'run_3',
          leaseOwner: 'worker-z',
          claim: 1,
          step: 0,
          callIndexes: [0],
          events: [],
          now: T0,
        })
        .catch((error: unknown) => error);
      expect(KeelError.isInstance(refused) && refused.code).toBe('lease_lost');
    });

    it('expires due approvals once, and an expired approval cannot be decided', async () => {
      const store = await open();
      await runningRun(store, 'run_4');
      await store.approvals.create(approval('run_4'));
      await suspend(store, 'run_4');
      expect(await store.approvals.expireDue(T0 + 59_999)).toEqual([]);
      const [expiration] = await store.approvals.expireDue(T0 + 60_000);
      expect(expiration?.expired).toMatchObject({ state: 'expired', decidedBy: 'keel:expiry' });
      expect(expiration?.entry).toMatchObject({ decision: 'expired', outcome: 'accepted' });
      expect(await store.approvals.expireDue(T0 + 70_000)).toEqual([]);
      expect((await store.getRun('run_4'))?.status).toBe('queued');
      const late = await store.approvals
        .decide({ id: 'apr_run_4', ...DECISION, now: T0 + 70_000 })
        .catch((error: unknown) => error);
      expect(KeelError.isInstance(late) && late.code).toBe('conflict');
    });

    it('keeps approvers by token hash only', async () => {
      const store = await open();
      await store.approvals.addApprover({
        id: 'apv_1',
        tokenHash: 'h1',
        name: 'ana',
        groups: ['finance', 'ops'],
        createdAt: T0,
      });
      expect(await store.approvals.findApprover('h1')).toEqual({
        id: 'apv_1',
        name: 'ana',
        groups: ['finance', 'ops'],
        role: 'approver',
        createdAt: T0,
        expiresAt: null,
        revokedAt: null,
      });
      expect(await store.approvals.findApprover('h2')).toBeUndefined();
    });

    it('keeps each approver role, and lists only the approvals of the groups asked for', async () => {
      const store = await open();
      await store.approvals.addApprover({
        id: 'apv_v',
        tokenHash: 'h-viewer',
        name: 'vic',
        groups: ['finance'],
        role: 'viewer',
        createdAt: T0,
      });
      await store.approvals.addApprover({
        id: 'apv_a',
        tokenHash: 'h-admin',
        name: 'root',
        groups: [],
        role: 'admin',
        createdAt: T0,
      });
      expect([
        (await store.approvals.findApprover('h-viewer'))?.role,
        (await store.approvals.findApprover('h-admin'))?.role,
      ]).toEqual(['viewer', 'admin']);
      await store.approvals.create(approval('run_f'));
      await store.approvals.create(approval('run_s', { id: 'apr_s', approverGroup: 'support' }));
      const listed = async (groups?: string[]) =>
        (await store.approvals.list({ groups })).map((record) => record.id).sort();
      expect([await listed(['finance']), await listed([]), await listed()]).toEqual([
        ['apr_run_f'],
        [],
        ['apr_run_f', 'apr_s'],
      ]);
    });

    it('keeps approver names unique, revoked ones included', async () => {
      const store = await open();
      const add = (id: string, tokenHash: string) =>
        store.approvals.addApprover({
          id,
          tokenHash,
          name: 'ana',
          groups: ['finance'],
          createdAt: T0,
        });
      await add('apv_1', 'h1');
      const twice = await add('apv_2', 'h2').catch((error: unknown) => error);
      expect(KeelError.isInstance(twice) && twice.code).toBe('invalid_input');
      await store.approvals.revokeApprover('ana', T0 + 1);
      const afterRevoke = await add('apv_3', 'h3').catch((error: unknown) => error);
      expect(KeelError.isInstance(afterRevoke) && afterRevoke.code).toBe('invalid_input');
      expect((await store.approvals.listApprovers()).map(({ id }) => id)).toEqual(['apv_1']);
    });

    it('revokes and rotates by name: the rotated token hash replaces the old one, the id stays', async () => {
      const store = await open();
      await store.approvals.addApprover({
        id: 'apv_1',
        tokenHash: 'old',
        name: 'ana',
        groups: ['finance'],
        createdAt: T0,
        expiresAt: T0 + 1_000,
      });
      const rotated = await store.approvals.rotateApprover({
        name: 'ana',
        tokenHash: 'new',
        expiresAt: null,
      });
      expect(rotated).toMatchObject({ id: 'apv_1', expiresAt: null, revokedAt: null });
      expect(await store.approvals.findApprover('old')).toBeUndefined();
      expect((await store.approvals.findApprover('new'))?.id).toBe('apv_1');
      expect((await store.approvals.revokeApprover('ana', T0 + 5)).revokedAt).toBe(T0 + 5);
      expect((await store.approvals.findApprover('new'))?.revokedAt).toBe(T0 + 5);
      const again = await store.approvals
        .revokeApprover('ana', T0 + 6)
        .catch((error: unknown) => error);
      const rotateRevoked = await store.approvals
        .rotateApprover({ name: 'ana', tokenHash: 'newer', expiresAt: null })
        .catch((error: unknown) => error);
      const missing = await store.approvals
        .revokeApprover('bob', T0)
        .catch((error: unknown) => error);
      expect(
        [again, rotateRevoked, missing].map((error) => KeelError.isInstance(error) && error.code),
      ).toEqual(['conflict', 'conflict', 'not_found']);
    });

    it('records the deciding approver id on the approval and in the decision log', async () => {
      const store = await open();
      await store.approvals.create(approval('run_id'));
      const { record, entry } = await store.approvals.decide({
        id: 'apr_run_id',
        ...DECISION,
        decidedById: 'apv_ana',
        now: T0 + 10,
      });
      expect([record.decidedById, entry.actorId]).toEqual(['apv_ana', 'apv_ana']);
      expect((await store.approvals.decisions('apr_run_id')).map(({ actorId }) => actorId)).toEqual(
        ['apv_ana'],
      );
    });
  });
}
