import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store, type StoredEvalAttempt, type StoredEvalRun } from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/* Contract of the eval port (stored evaluations and their journals), run against every store. */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

function evalRun(id: string, changes: Partial<StoredEvalRun> = {}): StoredEvalRun {
  return {
    id,
    suite: 'refunds',
    sources: ['evals/refunds.eval.ts'],
    createdAt: T0,
    passed: 3,
    failed: 1,
    k: 2,
    passAt1: 0.875,
    passHatK: 0.75,
    costUsd: 0.0123,
    durationMs: 4567,
    report: { suite: 'refunds', cases: [{ name: 'a', passed: true }] },
    ...changes,
  };
}

function attempt(evalRunId: string, caseName: string, number: number): StoredEvalAttempt {
  return {
    evalRunId,
    caseName,
    attempt: number,
    runId: `run_${caseName}_${number}`,
    passed: number === 1,
    result: { status: 'succeeded', assertions: [{ label: 'status succeeded', pass: true }] },
    journal: [{ at: T0, event: { type: 'run_started', task: 'Refund ORD-1001 — “damaged”' } }],
  };
}

for (const target of storeTargets(locations, 'keel_ev')) {
  describe(`evals on ${target.name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await openStore(target.url());
    });

    afterEach(async () => {
      await store.close();
    });

    it('keeps an evaluation and its attempts with their journals as they were', async () => {
      const attempts = [attempt('ev_1', 'b', 1), attempt('ev_1', 'a', 2), attempt('ev_1', 'a', 1)];
      await store.evals.save(evalRun('ev_1'), attempts);
      expect(await store.evals.get('ev_1')).toEqual(evalRun('ev_1'));
      expect(await store.evals.attempts('ev_1')).toEqual([attempts[2], attempts[1], attempts[0]]);
      expect(await store.evals.get('ev_missing')).toBeUndefined();
      expect(await store.evals.attempts('ev_missing')).toEqual([]);
    });

    it('lists the newest first, by suite, and keeps a re-score linked to its source', async () => {
      await store.evals.save(evalRun('ev_old'), []);
      await store.evals.save(evalRun('ev_other', { suite: 'payments', createdAt: T0 + 1 }), []);
      await store.evals.save(evalRun('ev_new', { createdAt: T0 + 2, rescoreOf: 'ev_old' }), []);
      expect((await store.evals.list()).map((run) => run.id)).toEqual([
        'ev_new',
        'ev_other',
        'ev_old',
      ]);
      expect((await store.evals.list({ suite: 'refunds', limit: 1 })).map((run) => run.id)).toEqual(
        ['ev_new'],
      );
      expect((await store.evals.get('ev_new'))?.rescoreOf).toBe('ev_old');
    });

    it('stores nothing when an attempt cannot be written', async () => {
      const duplicate = attempt('ev_bad', 'a', 1);
      await expect(store.evals.save(evalRun('ev_bad'), [duplicate, duplicate])).rejects.toThrow();
      expect(await store.evals.get('ev_bad')).toBeUndefined();
    });
  });
}
