import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store, type ToolBreakerRecord } from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/*
 * Contract of the tool layer's shared state (breakers, result cache), run against every store
 * implementation. Two stores on one database stand for two worker processes.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

function breaker(changes: Partial<ToolBreakerRecord> = {}): ToolBreakerRecord {
  return {
    tool: 'lookup',
    state: 'closed',
    failures: 1,
    until: 0,
    updatedAt: T0,
    version: 0,
    ...changes,
  };
}

for (const target of storeTargets(locations, 'keel_ts')) {
  describe(`tool state on ${target.name}`, () => {
    let store: Store;
    /** A second store on the same database, as another worker would have (in memory: the same). */
    let other: Store;

    beforeEach(async () => {
      const url = target.url();
      store = await openStore(url);
      other = target.shared ? await openStore(url) : store;
    });

    afterEach(async () => {
      if (other !== store) await other.close();
      await store.close();
    });

    describe('breakers', () => {
      it('creates a breaker once and updates it only at the expected version', async () => {
        expect(await store.tools.getBreaker('lookup')).toBeUndefined();
        expect(await store.tools.putBreaker(breaker(), 0)).toBe(true);
        // A second creator loses: the row exists.
        expect(await other.tools.putBreaker(breaker({ failures: 9 }), 0)).toBe(false);
        expect(await other.tools.getBreaker('lookup')).toEqual(breaker({ version: 1 }));

        const open = breaker({ state: 'open', failures: 5, until: T0 + 1_000 });
        expect(await other.tools.putBreaker(open, 1)).toBe(true);
        // A writer that read version 1 is refused once version 2 exists.
        expect(await store.tools.putBreaker(breaker({ failures: 2 }), 1)).toBe(false);
        expect(await store.tools.getBreaker('lookup')).toEqual({ ...open, version: 2 });
      });
    });

    describe('result cache', () => {
      it('returns an entry until it expires and replaces it on a second put', async () => {
        const entry = {
          key: 'k1',
          tool: 'lookup',
          value: '{"a":1}',
          createdAt: T0,
          expiresAt: T0 + 100,
        };
        await store.tools.putCachedResult(entry, T0);
        expect(await other.tools.getCachedResult('k1', T0 + 99)).toEqual(entry);
        expect(await other.tools.getCachedResult('k1', T0 + 100)).toBeUndefined();
        expect(await other.tools.getCachedResult('k2', T0)).toBeUndefined();
        const replaced = { ...entry, value: '"b"', createdAt: T0 + 200, expiresAt: T0 + 300 };
        await other.tools.putCachedResult(replaced, T0 + 200);
        expect(await store.tools.getCachedResult('k1', T0 + 250)).toEqual(replaced);
      });
    });
  });
}
