import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { KeelError, redactSecrets, redactors } from '../core/index.js';
import { createRuntime } from './index.js';
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
