import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { createApprovals, type GateCall, type GatePolicy } from '../approval/index.js';
import { KeelError } from '../core/index.js';
import { simulator } from '../model/index.js';
import { openStore, type ApprovalRecord, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, type Runtime } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Refunds above 1,000 cents, or to another order than A-1, are never allowed. */
const refundLimit: GatePolicy = (call) => {
  const input = call.input as { orderId?: unknown; amountCents?: unknown };
  if (typeof input.amountCents === 'number' && input.amountCents > 1_000)
    return {
      type: 'deny',
      reason: { type: 'policy', policy: 'refund_limit', message: 'over 1,000 cents' },
      record: { policy: 'refund_limit', rule: 'max_amount' },
    };
  if (input.orderId === 'VIP-1')
    return {
      type: 'confirm',
      reason: { type: 'policy', policy: 'vip_orders', message: 'a VIP order' },
    };
  return { type: 'allow' };
};

async function setup(args: Record<string, unknown>, seen: GateCall[] = []) {
  const store = await openStore('sqlite::memory:');
  const refunds: unknown[] = [];
  const refund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    run(input) {
      refunds.push(input);
      return Promise.resolve({ ok: true });
    },
  });
  const agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({
      script: ({ step, lastToolResults }) =>
        step === 0
          ? { toolCalls: [{ name: 'issue_refund', args }] }
          : { text: lastToolResults.map((result) => result.content).join(' ') || 'done' },
    }),
    tools: [refund],
    gates: {
      approverGroup: 'finance',
      policies: [
        (call) => {
          seen.push(call);
          return { type: 'allow' };
        },
        refundLimit,
      ],
    },
  });
  const runtime: Runtime = createRuntime({ store, agents: [agent] });
  const worker = runtime.startWorker({ pollMs: 10 });
  cleanups.push(async () => {
    await worker.stop({ abortInFlight: true });
    await runtime.close();
    await store.close();
  });
  const { token } = await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] });
  const record = await runtime.submit('refunds', 'Refund A-1');
  return { store, runtime, refunds, token, runId: record.id };
}

async function pendingOf(store: Store, runId: string): Promise<ApprovalRecord> {
  for (;;) {
    const [approval] = await store.approvals.list({ runId, states: ['pending'] });
    if (approval && (await store.getRun(runId))?.status === 'waiting') return approval;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function refusal(promise: Promise<unknown>): Promise<[string, string]> {
  try {
    await promise;
  } catch (error) {
    if (KeelError.isInstance(error)) return [error.code, error.message];
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('arguments outside the schema', () => {
  it('rejects a key the tool does not declare before any gate or policy sees the call', async () => {
    const seen: GateCall[] = [];
    const s = await setup({ orderId: 'A-1', amountCents: 500, '\u001b[2J\u001b[Hsafe': 'x' }, seen);
    const result = await s.runtime.wait(s.runId, { pollMs: 10 });
    expect(result.status).toBe('succeeded');
    const events = (await s.store.readEvents(s.runId)).map((entry) => entry.event);
    const rejected = events.find((event) => event.type === 'tool_rejected');
    expect(rejected).toMatchObject({ type: 'tool_rejected', error: { type: 'invalid_input' } });
    expect(events.some((event) => event.type === 'approval_requested')).toBe(false);
    expect(seen).toEqual([]);
    expect(s.refunds).toEqual([]);
  });
});

describe('edited arguments', () => {
  it('refuses an edit a policy denies, and the call never runs', async () => {
    const s = await setup({ orderId: 'A-1', amountCents: 500 });
    const approval = await pendingOf(s.store, s.runId);
    const [code, message] = await refusal(
      s.runtime.approvals.decide({
        token: s.token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
        editedArgs: { orderId: 'B-9', amountCents: 90_000 },
      }),
    );
    expect(code).toBe('forbidden');
    expect(message).toContain('refund_limit');
    expect((await s.store.approvals.get(approval.id))?.state).toBe('pending');
    expect(s.refunds).toEqual([]);
  });

  it('refuses an edit that a different policy would send to a human (it needs its own approval)', async () => {
    const s = await setup({ orderId: 'A-1', amountCents: 500 });
    const approval = await pendingOf(s.store, s.runId);
    const [code, message] = await refusal(
      s.runtime.approvals.decide({
        token: s.token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
        editedArgs: { orderId: 'VIP-1', amountCents: 500 },
      }),
    );
    expect(code).toBe('forbidden');
    expect(message).toContain('vip_orders');
  });

  it('runs an edit every policy allows, and the audit row keeps both argument sets and the verdicts', async () => {
    const s = await setup({ orderId: 'A-1', amountCents: 500 });
    const approval = await pendingOf(s.store, s.runId);
    await s.runtime.approvals.decide({
      token: s.token,
      id: approval.id,
      decision: 'approve',
      argsHash: approval.argsHash,
      editedArgs: { orderId: 'A-1', amountCents: 400 },
    });
    expect((await s.runtime.wait(s.runId, { pollMs: 10 })).status).toBe('succeeded');
    expect(s.refunds).toEqual([{ orderId: 'A-1', amountCents: 400 }]);
    const audited = (await s.store.audit.read({ limit: 1_000 })).filter(
      (row) => row.kind === 'approval_decision',
    );
    const data = JSON.parse(audited.at(-1)?.payload ?? '{}') as Record<string, unknown>;
    expect(data).toMatchObject({
      outcome: 'accepted',
      args: { orderId: 'A-1', amountCents: 500 },
      editedArgs: { orderId: 'A-1', amountCents: 400 },
      editReview: { decision: 'confirm', reasons: [{ type: 'effect', effect: 'irreversible' }] },
    });
  });

  it('answers an edit of an agent this process did not load with a conflict, not a 500', async () => {
    const s = await setup({ orderId: 'A-1', amountCents: 500 });
    const approval = await pendingOf(s.store, s.runId);
    const elsewhere = createApprovals({ store: s.store, resolveTool: () => undefined });
    const [code] = await refusal(
      elsewhere.decide({
        token: s.token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
        editedArgs: { orderId: 'A-1', amountCents: 400 },
      }),
    );
    expect(code).toBe('conflict');
  });
});
