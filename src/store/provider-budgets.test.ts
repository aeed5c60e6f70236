import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, storeTargets } from '../../test/support/store-targets.js';
import { openStore, type Store } from './index.js';

const T0 = 1_700_000_000_000;

for (const target of storeTargets('keel_pb_')) {
  describe(`provider budgets on ${target.name}`, () => {
    let store: Store;
    let dispose: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, dispose } = await target.open());
    });

    afterAll(async () => {
      await dispose?.();
    });

    it('spaces requests 62 000 / rpm ms apart, so no minute sees more than rpm', async () => {
      const take = (now: number) =>
        store.providerBudgets.take({ key: 'rpm', rpm: 60, tokens: 0, now });
      const answers: number[] = [];
      for (const now of [T0, T0, T0 + 1_033, T0 + 1_034, T0 + 1_034]) answers.push(await take(now));
      expect(answers).toEqual([0, 1_034, 1, 0, 1_034]);
      // Requests taken as soon as allowed: the 60th 61 s after the first, the 61st 62 s after.
      let now = T0 + 10_000;
      const taken: number[] = [];
      while (now < T0 + 75_000) {
        const waitMs = await take(now);
        if (waitMs === 0) taken.push(now);
        now += Math.max(waitMs, 1);
      }
      expect(taken.filter((at) => at < (taken[0] ?? 0) + 62_000)).toHaveLength(60);
      expect((taken[60] ?? 0) - (taken[0] ?? 0)).toBeGreaterThanOrEqual(62_000);
    });

    it('paces tokens per minute and lets a request larger than a minute go alone', async () => {
      const take = (tokens: number, now: number) =>
        store.providerBudgets.take({ key: 'tpm', tpm: 6_000, tokens, now });
      expect([await take(3_000, T0), await take(10, T0), await take(10, T0 + 31_000)]).toEqual([
        0, 31_000, 0,
      ]);
      expect(await take(50_000, T0 + 60_000)).toBe(0);
      expect(await take(1, T0 + 60_000)).toBe(62_000);
    });

    it("pauses a budget until a provider's retry-after, for every taker", async () => {
      await store.providerBudgets.pause('paused', T0 + 5_000);
      expect([
        await store.providerBudgets.take({ key: 'paused', rpm: 6_000, tokens: 0, now: T0 }),
        await store.providerBudgets.take({ key: 'paused', rpm: 6_000, tokens: 0, now: T0 + 5_000 }),
        await store.providerBudgets.take({ key: 'other', rpm: 6_000, tokens: 0, now: T0 }),
      ]).toEqual([5_000, 0, 0]);
    });

    if (target.name === 'postgres') {
      it('shares one budget between stores on the same database', async () => {
        const schema = /schema=(\w+)/.exec(store.location)?.[1] ?? '';
        const other = await openStore(POSTGRES_URL, { postgresSchema: schema });
        try {
          const request = { key: 'shared', rpm: 60, tokens: 0, now: T0 };
          expect([
            await store.providerBudgets.take(request),
            await other.providerBudgets.take(request),
          ]).toEqual([0, 1_034]);
          await other.providerBudgets.pause('shared', T0 + 9_000);
          expect(await store.providerBudgets.take({ ...request, now: T0 + 2_000 })).toBe(7_000);
        } finally {
          await other.close();
        }
      });
    }
  });
}
