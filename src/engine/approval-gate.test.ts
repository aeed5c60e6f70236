import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import { createApprovals, type GateOptions } from '../approval/index.js';
import { KeelError, type Clock } from '../core/index.js';
import { simulator, type ScriptContext, type SimulatedTurn } from '../model/index.js';
import type { Notification } from '../notify/index.js';
import {
  openStore,
  verifyAuditChain,
  type ApprovalDecisionEntry,
  type Store,
} from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, type Runtime, type Worker } from './index.js';
import { POSTGRES_URL, storeTargets } from '../../test/support/store-targets.js';

const TARGETS = storeTargets('keel_a_');

/** A clock the test moves forward (expiries) while leases still see real time pass. */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
  };
}

interface Harness {
  store: Store;
  runtime: Runtime;
  clock: ReturnType<typeof movableClock>;
  refunds: { orderId: string; amountCents: number; key: string }[];
  /** What the runtime's notifier was asked to deliver (an in-process channel). */
  notified: Notification[];
  worker(): Worker;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Step 0 asks for a refund; step 1 answers with what the tool (or the approver) said. */
function refundScript({ step, lastToolResults }: ScriptContext): SimulatedTurn {
  if (step === 0)
    return { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1', amountCents: 500 } }] };
  return { text: `result: ${lastToolResults.map((result) => result.content).join(' | ')}` };
}

async function harness(
  target: (typeof TARGETS)[number],
  gates: GateOptions = {},
  extraTools: Parameters<typeof defineAgent>[0]['tools'] = [],
  onDecision?: (entry: ApprovalDecisionEntry) => void,
): Promise<Harness> {
  const { store, dispose } = await target.open();
  const clock = movableClock();
  const refunds: Harness['refunds'] = [];
  const notified: Notification[] = [];
  const issueRefund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    idempotent: true,
    run(input, { idempotencyKey }) {
      refunds.push({ ...input, key: idempotencyKey });
      return Promise.resolve({ refunded: input.amountCents, orderId: input.orderId });
    },
  });
  const agent: Agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund orders.',
    model: simulator({ script: refundScript }),
    tools: [issueRefund, ...(extraTools ?? [])],
    gates,
  });
  const runtime = createRuntime({
    store,
    agents: [agent],
    clock,
    leaseMs: 2_000,
    approvals: {
      notifier: {
        name: 'inbox',
        notify(notification) {
          notified.push(notification);
          return Promise.resolve();
        },
      },
      ...(onDecision ? { onDecision } : {}),
    },
  });
  const workers: Worker[] = [];
  cleanups.push(async () => {
    await Promise.all(workers.map((worker) => worker.stop({ abortInFlight: true })));
    await runtime.close();
    await dispose();
  });
  return {
    store,
    runtime,
    clock,
    refunds,
    notified,
    worker() {
      const worker = runtime.startWorker({ pollMs: 20 });
      workers.push(worker);
      return worker;
    },
  };
}

async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function waitingApproval(h: Harness, runId: string) {
  await until(
    async () => ((await h.store.getRun(runId))?.status === 'waiting' ? true : undefined),
    'waiting run',
  );
  const [approval] = await h.store.approvals.list({ runId, states: ['pending'] });
  if (!approval) throw new Error('no pending approval');
  return approval;
}

async function journal(store: Store, runId: string): Promise<RunEvent[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event);
}

function codeOf(error: unknown): string | undefined {
  return KeelError.isInstance(error) ? error.code : undefined;
}

for (const target of TARGETS) {
  describe(`approval gates (${target.name})`, () => {
    it('parks a gated call without a lease and runs it exactly once when approved', async () => {
      const h = await harness(target, { tools: { issue_refund: { approverGroup: 'finance' } } });
      const { token } = await h.runtime.approvals.addApprover({ name: 'ana', groups: ['finance'] });
      const worker = h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);

      const parked = await h.store.getRun(record.id);
      expect(parked).toMatchObject({ status: 'waiting', leaseOwner: null, leaseUntil: 0 });
      expect(worker.inFlight).toBe(0);
      expect(h.refunds).toEqual([]);
      expect(approval).toMatchObject({
        runId: record.id,
        step: 0,
        toolName: 'issue_refund',
        args: { orderId: 'A-1', amountCents: 500 },
        gateReason: { type: 'effect', effect: 'irreversible' },
        approverGroup: 'finance',
        state: 'pending',
        decidedBy: null,
      });
      expect(approval.expiresAt - approval.createdAt).toBeGreaterThan(23 * 3_600_000);
      // Not claimable while it waits.
      expect(
        await h.store.claimNext({ workerId: 'other', now: h.clock.now(), leaseMs: 1_000 }),
      ).toBeUndefined();

      await h.runtime.approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
        reason: 'customer verified',
      });
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(result.status).toBe('succeeded');
      expect(result.output).toBe('result: {"refunded":500,"orderId":"A-1"}');
      expect(h.refunds).toEqual([{ orderId: 'A-1', amountCents: 500, key: `${record.id}:0:0` }]);

      const types = (await journal(h.store, record.id)).map((event) => event.type);
      expect(types).toEqual([
        'run_started',
        'run_claimed',
        'model_called',
        'tool_requested',
        'approval_requested',
        'run_suspended',
        'run_claimed',
        'approval_decided',
        'tool_started',
        'tool_finished',
        'model_called',
        'run_finished',
      ]);
      const decided = (await journal(h.store, record.id)).find(
        (event) => event.type === 'approval_decided',
      );
      expect(decided).toMatchObject({
        decision: 'approved',
        decidedBy: 'ana',
        reason: 'customer verified',
      });
      expect(await h.runtime.approvals.get(approval.id)).toMatchObject({
        state: 'approved',
        decidedBy: 'ana',
        decisionReason: 'customer verified',
      });
    });

    it('lets runtime.run wait for the decision and finish the run itself, with no worker', async () => {
      const h = await harness(target);
      const { token } = await h.runtime.approvals.addApprover({
        name: 'ro',
        groups: ['approvers'],
      });
      const told: string[] = [];
      const running = h.runtime.run('refunds', 'Refund A-1', {
        onWaiting(approvals) {
          told.push(...approvals.map((waiting) => `${waiting.toolName}@${waiting.approverGroup}`));
        },
      });
      const approval = await until(async () => {
        const [pending] = await h.store.approvals.list({ states: ['pending'] });
        return pending && (await h.store.getRun(pending.runId))?.status === 'waiting'
          ? pending
          : undefined;
      }, 'a pending approval');
      expect(h.refunds).toEqual([]);
      await h.runtime.approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
      });
      const result = await running;
      expect(result.status).toBe('succeeded');
      expect(h.refunds).toHaveLength(1);
      // Told once, with what it waited on, so a caller can say where to decide it.
      expect(told).toEqual(['issue_refund@approvers']);
    });

    it('never runs a denied call, feeds the model a typed denial and lets the run go on', async () => {
      const h = await harness(target);
      const { token } = await h.runtime.approvals.addApprover({
        name: 'bo',
        groups: ['approvers'],
      });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      await h.runtime.approvals.decide({
        token,
        id: approval.id,
        decision: 'deny',
        argsHash: approval.argsHash,
        reason: 'over the limit',
      });
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(h.refunds).toEqual([]);
      expect(result.status).toBe('succeeded');
      const denied = JSON.parse(result.output!.slice('result: '.length)) as unknown;
      expect(denied).toEqual({
        denied: {
          tool: 'issue_refund',
          by: 'approver',
          reason: 'over the limit',
          instruction: 'This action was not performed. Continue without it.',
        },
      });
      const types = (await journal(h.store, record.id)).map((event) => event.type);
      expect(types).not.toContain('tool_started');
    });

    it('runs an approved call with edited arguments, validated against the tool schema', async () => {
      const h = await harness(target);
      const { token } = await h.runtime.approvals.addApprover({
        name: 'cy',
        groups: ['approvers'],
      });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      const bad = await h.runtime.approvals
        .decide({
          token,
          id: approval.id,
          decision: 'approve',
          argsHash: approval.argsHash,
          editedArgs: { orderId: 'A-1', amountCents: -3 },
        })
        .catch((error: unknown) => error);
      expect(codeOf(bad)).toBe('invalid_input');
      await h.runtime.approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
        editedArgs: { orderId: 'A-1', amountCents: 300 },
      });
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(result.output).toBe('result: {"refunded":300,"orderId":"A-1"}');
      expect(h.refunds).toEqual([{ orderId: 'A-1', amountCents: 300, key: `${record.id}:0:0` }]);
    });

    it('refuses unauthenticated, wrong-group, stale-hash and replayed decisions, and logs them', async () => {
      const seen: ApprovalDecisionEntry[] = [];
      const h = await harness(target, { approverGroup: 'finance' }, [], (entry) => {
        if (entry.approvalId !== 'apr_missing') seen.push(entry);
      });
      const finance = await h.runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] });
      const support = await h.runtime.approvals.addApprover({ name: 'sup', groups: ['support'] });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      const attempt = (options: Partial<Parameters<Runtime['approvals']['decide']>[0]>) =>
        h.runtime.approvals
          .decide({
            token: finance.token,
            id: approval.id,
            decision: 'approve',
            argsHash: approval.argsHash,
            ...options,
          })
          .then(
            () => 'accepted',
            (error: unknown) => codeOf(error),
          );

      expect(await attempt({ token: undefined })).toBe('unauthenticated');
      expect(await attempt({ token: 'keel_apr_not-a-real-token' })).toBe('unauthenticated');
      expect(await attempt({ token: support.token })).toBe('forbidden');
      expect(await attempt({ token: support.token, editedArgs: { orderId: 1 } })).toBe('forbidden');
      expect(await attempt({ argsHash: '0'.repeat(32) })).toBe('conflict');
      expect(await attempt({ id: 'apr_missing' })).toBe('not_found');
      expect(h.refunds).toEqual([]);
      expect((await h.store.getRun(record.id))?.status).toBe('waiting');

      expect(await attempt({})).toBe('accepted');
      expect(await attempt({})).toBe('conflict'); // replayed
      expect(await attempt({ decision: 'deny' })).toBe('conflict');
      await h.runtime.wait(record.id, { pollMs: 10 });
      expect(h.refunds).toHaveLength(1);

      const log = await h.runtime.approvals.decisions(approval.id);
      expect(seen.map((entry) => entry.id)).toEqual(log.map((entry) => entry.id));
      expect(log.map((entry) => [entry.actor, entry.outcome, entry.errorCode])).toEqual([
        ['unauthenticated', 'refused', 'unauthenticated'],
        ['unauthenticated', 'refused', 'unauthenticated'],
        ['sup', 'refused', 'forbidden'],
        ['sup', 'refused', 'forbidden'],
        ['fin', 'refused', 'conflict'],
        ['fin', 'accepted', null],
        ['fin', 'refused', 'conflict'],
        ['fin', 'refused', 'conflict'],
      ]);
      // Every attempt is also in the hash-chained audit log, the accepted one with its run.
      const audit = (await h.store.audit.read()).filter((row) => row.kind === 'approval_decision');
      const audited = audit.map((row) => JSON.parse(row.payload) as ApprovalDecisionEntry);
      expect(audited.filter((entry) => entry.approvalId === approval.id)).toEqual(log);
      expect(audit.find((row) => row.runId === record.id)).toBeDefined();
      expect(verifyAuditChain(await h.store.audit.read()).ok).toBe(true);
    });

    it('denies on expiry, and an expired approval cannot be approved afterwards', async () => {
      const h = await harness(target, { expiresAfterMs: 60_000, onExpiry: 'deny' });
      const { token } = await h.runtime.approvals.addApprover({
        name: 'dee',
        groups: ['approvers'],
      });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      h.clock.advance(61_000);
      const late = await h.runtime.approvals
        .decide({ token, id: approval.id, decision: 'approve', argsHash: approval.argsHash })
        .catch((error: unknown) => error);
      expect(codeOf(late)).toBe('conflict');
      expect((late as Error).message).toContain('expired');
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(h.refunds).toEqual([]);
      expect(result.status).toBe('succeeded');
      expect(result.output).toContain('"by":"expiry"');
      expect(await h.runtime.approvals.get(approval.id)).toMatchObject({ state: 'expired' });
    });

    it('escalates to a second group on expiry; the first group can no longer decide', async () => {
      const h = await harness(target, {
        approverGroup: 'support',
        expiresAfterMs: 60_000,
        onExpiry: { escalateTo: 'finance-leads', expiresAfterMs: 120_000 },
      });
      const support = await h.runtime.approvals.addApprover({ name: 'sup', groups: ['support'] });
      const lead = await h.runtime.approvals.addApprover({
        name: 'lead',
        groups: ['finance-leads'],
      });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const first = await waitingApproval(h, record.id);
      h.clock.advance(61_000);
      const [expiration] = await h.runtime.approvals.expireDue();
      expect(expiration?.expired).toMatchObject({ id: first.id, state: 'escalated' });
      const second = expiration!.escalation!;
      expect(second).toMatchObject({
        state: 'pending',
        approverGroup: 'finance-leads',
        escalatedFrom: first.id,
        argsHash: first.argsHash,
      });
      expect(second.expiresAt).toBe(second.createdAt + 120_000);
      await until(
        () => Promise.resolve(h.notified.length >= 2 ? true : undefined),
        'the second group to be told',
      );
      expect(h.notified.map((notice) => [notice.subject, notice.data?.approverGroup])).toEqual([
        [first.id, 'support'],
        [second.id, 'finance-leads'],
      ]);
      expect((await h.store.getRun(record.id))?.status).toBe('waiting');

      const stale = await h.runtime.approvals
        .decide({
          token: support.token,
          id: first.id,
          decision: 'approve',
          argsHash: first.argsHash,
        })
        .catch((error: unknown) => codeOf(error));
      expect(stale).toBe('conflict');
      const wrongGroup = await h.runtime.approvals
        .decide({
          token: support.token,
          id: second.id,
          decision: 'approve',
          argsHash: second.argsHash,
        })
        .catch((error: unknown) => codeOf(error));
      expect(wrongGroup).toBe('forbidden');

      await h.runtime.approvals.decide({
        token: lead.token,
        id: second.id,
        decision: 'approve',
        argsHash: second.argsHash,
      });
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(result.status).toBe('succeeded');
      expect(h.refunds).toHaveLength(1);
    });

    it('cancels a waiting run; its approval can no longer be decided', async () => {
      const h = await harness(target);
      const { token } = await h.runtime.approvals.addApprover({
        name: 'ed',
        groups: ['approvers'],
      });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      await h.runtime.cancel(record.id);
      // Queued again with its cancel flag: ended at once, here or by the worker that claims it.
      expect((await h.runtime.wait(record.id, { pollMs: 10 })).status).toBe('cancelled');
      const late = await h.runtime.approvals
        .decide({ token, id: approval.id, decision: 'approve', argsHash: approval.argsHash })
        .catch((error: unknown) => error);
      expect(codeOf(late)).toBe('conflict');
      expect((late as Error).message).toContain('has already ended (cancelled)');
      expect(h.refunds).toEqual([]);
      // Withdrawn with the run, not left pending in every approver's queue.
      expect(await h.store.approvals.list({ states: ['pending'] })).toEqual([]);
      expect(await h.store.approvals.get(approval.id)).toMatchObject({
        state: 'expired',
        decidedBy: 'keel:run-ended',
        decisionReason: 'withdrawn: the run ended cancelled',
      });
    });

    it('ends the run escalated when the approval expires with end_run', async () => {
      const h = await harness(target, { expiresAfterMs: 1_000, onExpiry: 'end_run' });
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      h.clock.advance(2_000);
      await h.runtime.approvals.expireDue();
      const result = await h.runtime.wait(record.id, { pollMs: 10 });
      expect(result.status).toBe('escalated');
      expect(result.reason).toMatchObject({ type: 'escalation' });
      expect(h.refunds).toEqual([]);
      expect(await h.runtime.approvals.get(approval.id)).toMatchObject({ state: 'expired' });
    });
  });
}

describe('approval wake-up across processes (postgres)', () => {
  it('resumes at once a run decided through another connection (LISTEN/NOTIFY), not at the next poll', async () => {
    const h = await harness(TARGETS[1]);
    const elsewhere = await openStore(POSTGRES_URL, {
      postgresSchema: /schema=([a-z0-9_]+)/.exec(h.store.location)![1]!,
    });
    cleanups.push(() => elsewhere.close());
    const approvals = createApprovals({ store: elsewhere });
    const { token } = await approvals.addApprover({ name: 'far', groups: ['approvers'] });
    const worker = h.runtime.startWorker({ pollMs: 60_000 });
    cleanups.push(() => worker.stop({ abortInFlight: true }));
    const record = await h.runtime.submit('refunds', 'Refund A-1');
    const approval = await waitingApproval(h, record.id);
    const decidedAt = Date.now();
    await approvals.decide({
      token,
      id: approval.id,
      decision: 'approve',
      argsHash: approval.argsHash,
    });
    const result = await h.runtime.wait(record.id, { pollMs: 5 });
    expect(result.status).toBe('succeeded');
    expect(Date.now() - decidedAt).toBeLessThan(10_000);
    expect(h.refunds).toHaveLength(1);
  });
});

describe('approval gates with several calls and long waits', () => {
  it('runs an approved call while another of the same step still waits, then goes on when that one is denied', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = movableClock();
    const executed: string[] = [];
    const refund = defineTool({
      name: 'issue_refund',
      description: 'Refund',
      input: z.object({ orderId: z.string() }),
      effect: 'irreversible',
      run({ orderId }) {
        executed.push(orderId);
        return Promise.resolve({ refunded: orderId });
      },
    });
    const lookup = defineTool({
      name: 'lookup',
      description: 'Read',
      input: z.object({ orderId: z.string() }),
      effect: 'read',
      run({ orderId }) {
        executed.push(`read ${orderId}`);
        return Promise.resolve({ orderId });
      },
    });
    const agent = defineAgent({
      name: 'refunds',
      instructions: 'Refund.',
      model: simulator({
        script: ({ step, lastToolResults }) =>
          step === 0
            ? {
                toolCalls: [
                  { name: 'issue_refund', args: { orderId: 'A' } },
                  { name: 'lookup', args: { orderId: 'C' } },
                  { name: 'issue_refund', args: { orderId: 'B' } },
                ],
              }
            : { text: lastToolResults.map((result) => result.content).join(' | ') },
      }),
      tools: [refund, lookup],
      gates: {},
      limits: { timeoutMs: 60_000 },
    });
    const runtime = createRuntime({ store, agents: [agent], clock });
    const worker = runtime.startWorker({ pollMs: 10 });
    cleanups.push(async () => {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    });
    const { token } = await runtime.approvals.addApprover({ name: 'ana', groups: ['approvers'] });
    const record = await runtime.submit('refunds', 'Refund A and B');
    const pendingOf = async (count: number) =>
      until(
        async () => {
          const run = await store.getRun(record.id);
          const pending = await store.approvals.list({ runId: record.id, states: ['pending'] });
          return run?.status === 'waiting' && pending.length === count ? pending : undefined;
        },
        `${String(count)} pending`,
      );
    const both = await pendingOf(2);
    // The read of the same step ran at once; neither refund did.
    expect(executed).toEqual(['read C']);
    const [first, second] = [...both].sort((a, b) => a.callIndex - b.callIndex);
    // Waiting longer than the run's wall-clock limit does not stop it.
    clock.advance(120_000);
    await runtime.approvals.decide({
      token,
      id: first!.id,
      decision: 'approve',
      argsHash: first!.argsHash,
    });
    await pendingOf(1);
    expect(executed).toEqual(['read C', 'A']);
    await runtime.approvals.decide({
      token,
      id: second!.id,
      decision: 'deny',
      argsHash: second!.argsHash,
    });
    const result = await runtime.wait(record.id, { pollMs: 10 });
    expect(result.status).toBe('succeeded');
    expect(executed).toEqual(['read C', 'A']);
    const parts = result.output!.split(' | ');
    expect(parts[0]).toBe('{"refunded":"A"}');
    expect(parts[1]).toBe('{"orderId":"C"}');
    expect(JSON.parse(parts[2]!)).toMatchObject({
      denied: { tool: 'issue_refund', by: 'approver' },
    });
    const suspensions = (await journal(store, record.id)).filter(
      (event) => event.type === 'run_suspended',
    );
    expect(suspensions).toHaveLength(2);
  });
});

describe('gate policies', () => {
  const target = TARGETS[0];

  it('lets an agent without gates, or a tool set to allow, run irreversible calls at once', async () => {
    const h = await harness(target, { tools: { issue_refund: 'allow' } });
    const result = await h.runtime.run('refunds', 'Refund A-1');
    expect(result.status).toBe('succeeded');
    expect(h.refunds).toHaveLength(1);
    expect(await h.store.approvals.list()).toEqual([]);
  });

  it('refuses a call a policy denies, as a forbidden tool error fed back to the model', async () => {
    const h = await harness(target, {
      tools: { issue_refund: 'allow' },
      policies: [
        (call) =>
          call.toolName === 'issue_refund'
            ? { type: 'deny', reason: { type: 'policy', policy: 'guard', message: 'tainted' } }
            : { type: 'allow' },
      ],
    });
    const result = await h.runtime.run('refunds', 'Refund A-1');
    expect(h.refunds).toEqual([]);
    expect(result.output).toContain('"type":"forbidden"');
    const rejected = (await journal(h.store, result.id)).find(
      (event) => event.type === 'tool_rejected',
    );
    expect(rejected).toMatchObject({ error: { type: 'forbidden' } });
  });

  it('routes a policy confirm, a low confidence and an out-of-scope call to an approval', async () => {
    const scenarios: [string, GateOptions, unknown][] = [
      [
        'policy',
        {
          tools: { issue_refund: 'allow' },
          policies: [
            () => ({
              type: 'confirm',
              reason: { type: 'policy', policy: 'guard', message: 'check' },
            }),
          ],
        },
        { type: 'policy', policy: 'guard', message: 'check' },
      ],
      [
        'confidence',
        {
          effects: [],
          tools: { issue_refund: { confidence: { field: 'confidence', floor: 0.8 } } },
        },
        { type: 'low_confidence', confidence: null, floor: 0.8 },
      ],
      [
        'scope',
        {
          effects: [],
          scope: (call) => (call.toolName === 'issue_refund' ? 'refunds need a ticket' : undefined),
        },
        { type: 'out_of_scope', message: 'refunds need a ticket' },
      ],
    ];
    for (const [, gates, reason] of scenarios) {
      const h = await harness(target, gates);
      h.worker();
      const record = await h.runtime.submit('refunds', 'Refund A-1');
      const approval = await waitingApproval(h, record.id);
      expect(approval.gateReason).toEqual(reason);
      expect(h.refunds).toEqual([]);
    }
  });

  it('rejects invalid gate options at definition time, naming the field', () => {
    const define = (gates: GateOptions) => () =>
      defineAgent({
        name: 'bad',
        instructions: 'x',
        model: simulator({ script: [{ text: 'ok' }] }),
        gates,
      });
    expect(define({ expiresAfterMs: -1 })).toThrow(/"gates\.expiresAfterMs" must be a positive/);
    expect(define({ onExpiry: { escalateTo: '' } })).toThrow(/"gates\.onExpiry\.escalateTo"/);
    expect(define({ effects: ['nope' as never] })).toThrow(/"effects"/);
    expect(define({ tools: { x: { confidence: { field: 'c', floor: 2 } } } })).toThrow(
      /"tools\.x\.confidence\.floor"/,
    );
  });
});
