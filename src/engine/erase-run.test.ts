import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { KeelError, redactSecrets, redactors } from '../core/index.js';
import { createRuntime, eraseRun, replayRun } from './index.js';
import { z } from 'zod';
import { defineTool } from '../tools/index.js';
import type { Agent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { verifyAuditChain } from '../store/index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/* Erasing a finished run's card numbers: the stored values go, the audit log still verifies. */

const CARD = '4111 1111 1111 1111';
const erase = (value: unknown) => redactSecrets(value, { redactors: [redactors.cardNumber] });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

for (const target of storeTargets('keel_er_')) {
  describe(`eraseRun on ${target.name}`, () => {
    it("replaces a finished run's secrets everywhere it stored them, and the audit log verifies", async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const runtime = createRuntime({
        store,
        agents: [
          defineAgent({
            name: 'echo',
            instructions: 'Echo.',
            model: simulator({ script: () => ({ text: `charged ${CARD}` }) }),
          }),
        ],
      });
      cleanups.push(() => runtime.close());
      const run = await runtime.run('echo', `charge ${CARD}`);
      expect(JSON.stringify(await store.readEvents(run.id))).toContain(CARD);
      const changed = await store.retention.eraseRun(run.id, erase);
      expect(changed.events).toBeGreaterThan(0);
      const stored = JSON.stringify([await store.getRun(run.id), await store.readEvents(run.id)]);
      expect(stored).not.toContain(CARD);
      expect(stored).toContain('[redacted:card_number]');
      expect(verifyAuditChain(await store.audit.read()).ok).toBe(true);
      const unknown = await store.retention.eraseRun('run_nope', erase).catch((e: unknown) => e);
      expect(KeelError.isInstance(unknown) && unknown.code).toBe('not_found');
    });
  });
}

const TOKEN = 'tok_live_7Qx92';

/** An agent whose tool marks its input token and its receipt secret. */
function billing(): Agent {
  return defineAgent(billingDefinition());
}

function billingDefinition() {
  return {
    name: 'billing',
    instructions: 'Charge.',
    model: simulator({
      script: ({ step, lastToolResults }) =>
        step === 0
          ? { toolCalls: [{ name: 'charge', args: { token: TOKEN, amount: 5 } }] }
          : { text: `charged ${TOKEN}: ${lastToolResults[0]?.content ?? ''}` },
    }),
    tools: [
      defineTool({
        name: 'charge',
        description: 'Charge a saved card',
        input: z.object({ token: z.string(), amount: z.number() }),
        effect: 'read',
        secretFields: { input: ['token'], output: ['receipt'] },
        run: () => Promise.resolve({ receipt: 'rcpt_99812', ok: true }),
      }),
    ],
  };
}

for (const target of storeTargets('keel_er2_')) {
  describe(`eraseRun with secret fields on ${target.name}`, () => {
    it('erases the fields the run recorded and their values everywhere; a replay compares all but the request digests', async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const runtime = createRuntime({ store, agents: [billing()] });
      cleanups.push(() => runtime.close());
      const run = await runtime.run('billing', 'Charge the saved card');
      expect(run.status).toBe('succeeded');
      const before = await store.readEvents(run.id);
      expect(
        (await replayRun({ agent: billing(), runId: run.id, journal: before })).erased,
      ).toBeUndefined();

      const changed = await eraseRun(store, run.id, { now: 1_000 });
      expect(changed.events).toBeGreaterThan(0);
      const journal = await store.readEvents(run.id);
      const stored = JSON.stringify([await store.getRun(run.id), journal]);
      for (const secret of [TOKEN, 'rcpt_99812']) expect(stored).not.toContain(secret);
      expect(verifyAuditChain(await store.audit.read()).ok).toBe(true);

      expect(await replayRun({ agent: billing(), runId: run.id, journal })).toMatchObject({
        identical: true,
        erased: { at: 1_000, uncompared: ['requestHash'], steps: [1] },
      });
      // What the erasure did not touch is still compared: step 0's request held no secret.
      const changed2 = defineAgent({ ...billingDefinition(), instructions: 'Charge twice.' });
      expect(await replayRun({ agent: changed2, runId: run.id, journal })).toMatchObject({
        identical: false,
        divergence: { step: 0, fields: ['requestHash'] },
        erased: { at: 1_000 },
      });
    });
  });
}
