import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type RunPrice, type Store } from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/* Contract of the price port (re-pricings of stored runs), run against every store implementation. */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

function price(runId: string, changes: Partial<RunPrice> = {}): RunPrice {
  return { runId, costUsd: 0.0042, pricedCalls: 3, unpricedCalls: 0, pricedAt: T0, ...changes };
}

for (const target of storeTargets(locations, 'keel_ps')) {
  describe(`prices on ${target.name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await openStore(target.url());
    });

    afterEach(async () => {
      await store.close();
    });

    it('returns undefined for a run that was never re-priced', async () => {
      expect(await store.prices.get('run_never')).toBeUndefined();
    });

    it('keeps each run re-priced, and a later re-pricing replaces the earlier one', async () => {
      await store.prices.save([price('run_a'), price('run_b', { costUsd: 1.5 })]);
      expect(await store.prices.get('run_a')).toEqual(price('run_a'));
      const later = price('run_a', { costUsd: 0.005, pricedCalls: 2, pricedAt: T0 + 1 });
      await store.prices.save([later]);
      expect(await store.prices.get('run_a')).toEqual(later);
      expect(await store.prices.get('run_b')).toEqual(price('run_b', { costUsd: 1.5 }));
    });

    it('keeps an unknown cost as null, never as 0', async () => {
      const unknown = price('run_c', { costUsd: null, pricedCalls: 1, unpricedCalls: 2 });
      await store.prices.save([unknown]);
      expect(await store.prices.get('run_c')).toEqual(unknown);
    });

    it('does nothing for an empty list', async () => {
      await store.prices.save([]);
      expect(await store.prices.get('run_a')).toBeUndefined();
    });
  });
}
