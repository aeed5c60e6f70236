import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { openStore, verifyAuditChain, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime } from './index.js';

/*
 * What the audit log covers beyond tool calls: who may decide (approvers), what was asked of
 * them (approval requests), their decisions, and how each run ended.
 */

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

describe('the audit log', () => {
  it('records approvers, approval requests, decisions and run finishes in one chain', async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'refunds',
          instructions: 'Refund.',
          model: simulator({
            script: ({ step }) =>
              step === 0
                ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] }
                : { text: 'done' },
          }),
          tools: [
            defineTool({
              name: 'issue_refund',
              description: 'Refund',
              input: z.object({ orderId: z.string() }),
              effect: 'irreversible',
              run: (input) => Promise.resolve(input),
            }),
          ],
          gates: { approverGroup: 'approvers' },
        }),
      ],
    });
    const worker = runtime.startWorker({ pollMs: 5 });
    try {
      const { token } = await runtime.approvals.addApprover({ name: 'ana', groups: ['approvers'] });
      const run = await runtime.submit('refunds', 'Refund A-1');
      let [approval] = await store.approvals.list({ runId: run.id });
      for (let tries = 0; !approval && tries < 2_000; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        [approval] = await store.approvals.list({ runId: run.id });
      }
      if (!approval) throw new Error(`no approval: ${JSON.stringify(await store.getRun(run.id))}`);
      await runtime.approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
      });
      expect((await runtime.wait(run.id, { pollMs: 5 })).status).toBe('succeeded');
      const rows = await store.audit.read();
      expect(rows.map((row) => row.kind)).toEqual([
        'approver_added',
        'approval_requested',
        'approval_decision',
        'tool_call',
        'run_finished',
      ]);
      expect(JSON.parse(rows.at(-1)?.payload ?? '{}')).toMatchObject({
        status: 'succeeded',
        steps: 2,
      });
      expect(rows.at(-1)?.payload).not.toContain('done');
      expect(verifyAuditChain(rows).ok).toBe(true);
    } finally {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
    }
  });
});

describe('an approval request', () => {
  it('commits with its audit row: a process that dies right after leaves no unaudited approval', async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    // A separate audit append is where a process would die between the two writes.
    const bound = (target: object, key: string | symbol): unknown => {
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    };
    const dying: Store = new Proxy(store, {
      get(target, key) {
        if (key === 'audit')
          return new Proxy(target.audit, {
            get(audit, name) {
              if (name === 'append') return () => Promise.reject(new Error('process died'));
              return bound(audit, name);
            },
          });
        return bound(target, key);
      },
    });
    const runtime = createRuntime({
      store: dying,
      agents: [
        defineAgent({
          name: 'refunds',
          instructions: 'Refund.',
          model: simulator({
            script: () => ({ toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] }),
          }),
          tools: [
            defineTool({
              name: 'issue_refund',
              description: 'Refund',
              input: z.object({ orderId: z.string() }),
              effect: 'irreversible',
              run: (input) => Promise.resolve(input),
            }),
          ],
          gates: { approverGroup: 'approvers' },
        }),
      ],
    });
    const worker = runtime.startWorker({ pollMs: 5 });
    try {
      const run = await runtime.submit('refunds', 'Refund A-1');
      let approvals = await store.approvals.list();
      for (let tries = 0; approvals.length === 0 && tries < 400; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        approvals = await store.approvals.list();
      }
      // Whether the run went on or its worker died: the approval is there, audited.
      expect(approvals.map((approval) => approval.runId)).toEqual([run.id]);
      const requested = (await store.audit.read()).filter(
        (row) => row.kind === 'approval_requested',
      );
      expect(requested.map((row) => JSON.parse(row.payload).approvalId)).toEqual(
        approvals.map((approval) => approval.id),
      );
    } finally {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
    }
  });
});
