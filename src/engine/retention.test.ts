import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { KeelError, type Clock } from '../core/index.js';
import { simulator } from '../model/index.js';
import {
  finishAuditVerification,
  startAuditVerification,
  verifyAuditChain,
  type AuditVerification,
  type Store,
} from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, pruneStore, type Runtime } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/*
 * Retention on both stores: finished runs older than the cutoff go with everything derived
 * from them, in batches; queued, running and waiting runs and younger runs stay; the audit log
 * still verifies.
 */

const DAY = 86_400_000;
const NOW = Date.now();
const OLD = NOW - 40 * DAY;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function refunds(): Agent {
  return defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({
      script: ({ step, task }) =>
        step === 0 && task.startsWith('refund')
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: task } }] }
          : { text: `done: ${task}` },
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
    gates: { approverGroup: 'finance' },
  });
}

function runtimeAt(store: Store, now: number): Runtime {
  const clock: Clock = { now: () => now + (Date.now() - NOW) };
  const runtime = createRuntime({ store, agents: [refunds()], clock });
  cleanups.push(() => runtime.close());
  return runtime;
}

async function waitingApproval(store: Store, runId: string) {
  for (let tries = 0; tries < 2_000; tries++) {
    const [approval] = await store.approvals.list({ runId });
    if (approval && (await store.getRun(runId))?.status === 'waiting') return approval;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`run ${runId} never waited`);
}

async function verify(store: Store): Promise<AuditVerification> {
  const state = startAuditVerification({ checkpoints: await store.audit.checkpoints() });
  if ('ok' in state) return state;
  return finishAuditVerification(verifyAuditChain(await store.audit.read(), state), state);
}

for (const target of storeTargets('keel_ret_')) {
  describe(`pruneStore on ${target.name}`, () => {
    it('removes old finished runs and what they own, keeps waiting and young runs, and the audit log verifies', async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const old = runtimeAt(store, OLD);
      const worker = old.startWorker({ pollMs: 5 });
      const { token } = await old.approvals.addApprover({ name: 'fin', groups: ['finance'] });
      const decided = await old.submit('refunds', 'refund A-1');
      const approval = await waitingApproval(store, decided.id);
      await old.approvals.decide({
        token,
        id: approval.id,
        decision: 'approve',
        argsHash: approval.argsHash,
      });
      expect((await old.wait(decided.id, { pollMs: 5 })).status).toBe('succeeded');
      const plain = await old.run('refunds', 'hello');
      const waiting = await old.submit('refunds', 'refund B-2');
      await waitingApproval(store, waiting.id);
      await worker.stop();
      const young = await runtimeAt(store, NOW).run('refunds', 'hi');

      const dry = await pruneStore(store, { olderThanMs: 30 * DAY, now: NOW, dryRun: true });
      expect([...dry.runIds].sort()).toEqual([decided.id, plain.id].sort());
      expect(await store.getRun(decided.id)).toBeDefined();

      const report = await pruneStore(store, { olderThanMs: 30 * DAY, now: NOW, batchSize: 1 });
      expect([...report.runIds].sort()).toEqual([decided.id, plain.id].sort());
      expect(report.auditRows).toBeGreaterThan(0);
      expect(report.batches).toBeGreaterThanOrEqual(3);
      expect(await store.getRun(decided.id)).toBeUndefined();
      expect(await store.readEvents(decided.id)).toEqual([]);
      expect(await store.approvals.list({ runId: decided.id })).toEqual([]);
      expect(await store.approvals.decisions(approval.id)).toEqual([]);
      // A run waiting on a human is never touched, however old.
      expect((await store.getRun(waiting.id))?.status).toBe('waiting');
      expect(await store.approvals.list({ runId: waiting.id })).toHaveLength(1);
      expect((await store.readEvents(waiting.id)).length).toBeGreaterThan(0);
      expect((await store.getRun(young.id))?.status).toBe('succeeded');
      expect(await verify(store)).toMatchObject({ ok: true });
      // Nothing left to prune: a second pass removes nothing and the chain still verifies.
      expect(await pruneStore(store, { olderThanMs: 30 * DAY, now: NOW })).toMatchObject({
        runs: 0,
        auditRows: 0,
      });
      expect(await verify(store)).toMatchObject({ ok: true });
    });

    it("keeps both runs of a shadow's pair while the shadow exists", async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const old = runtimeAt(store, OLD);
      const production = await old.run('refunds', 'hello');
      const candidate = await old.run('refunds', 'hello again');
      const other = await old.run('refunds', 'bye');
      await store.shadows.save({
        id: 'sh_keep',
        agent: 'refunds',
        candidateVersion: 'v2',
        candidateModule: null,
        share: 1,
        maxConcurrent: 1,
        maxCostUsd: null,
        allowLiveReads: false,
        startedAt: OLD,
        stoppedAt: null,
        stopReason: null,
      });
      await store.shadows.addPair({
        shadowId: 'sh_keep',
        runId: production.id,
        candidateRunId: candidate.id,
        createdAt: OLD,
      });
      const report = await pruneStore(store, { olderThanMs: 30 * DAY, now: NOW });
      expect(report.runIds).toEqual([other.id]);
      expect(await store.getRun(production.id)).toBeDefined();
      expect(await store.getRun(candidate.id)).toBeDefined();
    });

    it('prunes only the statuses asked for, and refuses a state that is not finished', async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const old = runtimeAt(store, OLD);
      const done = await old.run('refunds', 'hello');
      const cancelled = await old.submit('refunds', 'later');
      await old.cancel(cancelled.id);
      const report = await pruneStore(store, {
        olderThanMs: 30 * DAY,
        now: NOW,
        statuses: ['cancelled'],
      });
      expect(report.runIds).toEqual([cancelled.id]);
      expect(await store.getRun(done.id)).toBeDefined();
      const refused = await pruneStore(store, {
        olderThanMs: 30 * DAY,
        now: NOW,
        statuses: ['waiting' as 'cancelled'],
      }).catch((error: unknown) => error);
      expect(KeelError.isInstance(refused) && refused.code).toBe('invalid_input');
    });
  });
}

describe('createRuntime({ retention })', () => {
  it('fails at creation on a setting that would do nothing', () => {
    const attempt = (retention: object) => {
      try {
        createRuntime({
          store: {} as Store,
          agents: [],
          retention: retention as { olderThan: string },
        });
      } catch (error) {
        return KeelError.isInstance(error) ? error.code : 'not a KeelError';
      }
      return 'created';
    };
    expect([
      attempt({ olderThan: 'a month' }),
      attempt({ olderThan: '30d', everyMs: 10 }),
      attempt({ olderThan: '30d', statuses: ['running'] }),
    ]).toEqual(['invalid_config', 'invalid_config', 'invalid_config']);
  });
});
