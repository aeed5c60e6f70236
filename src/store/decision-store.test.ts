import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, type DecisionRecord, type Store } from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/*
 * The decision store's contract, on SQLite and PostgreSQL: records round-trip as plain JSON,
 * the cache finds only decided records, and a review is settled exactly once.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = storeTargets(locations, 'keel_ds');

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0).reverse()) await store.close();
});

function record(id: string, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id,
    kind: 'decision',
    status: 'decided',
    instructions: 'Classify.',
    input: { ticket: 'charged twice' },
    value: 'billing',
    confidence: 0.9,
    reason: null,
    choices: ['billing', 'shipping'],
    cacheKey: `key-${id}`,
    runId: null,
    startedRunId: null,
    onResolve: null,
    events: [{ type: 'decision_started' }],
    createdAt: T0,
    decidedAt: T0 + 5,
    decidedBy: null,
    ...overrides,
  };
}

describe.each(BACKENDS)('DecisionStore on $name', (backend) => {
  async function open(): Promise<Store> {
    const store = await openStore(backend.url());
    opened.push(store);
    return store;
  }

  it('round-trips a record and serves the cache only from decided records', async () => {
    const store = await open();
    const decided = record('dec_a');
    await store.decisions.save(decided);
    await store.decisions.save(record('dec_b', { status: 'fallback', cacheKey: 'key-b' }));
    expect(await store.decisions.get('dec_a')).toEqual(decided);
    expect(await store.decisions.findCached('key-dec_a')).toEqual(decided);
    expect(await store.decisions.findCached('key-b')).toBeUndefined();
  });

  it('settles a review once; a second reviewer gets nothing', async () => {
    const store = await open();
    await store.decisions.save(
      record('dec_r', { status: 'review', value: null, decidedAt: null, cacheKey: null }),
    );
    expect(await store.decisions.list({ status: 'review' })).toHaveLength(1);
    const event = { type: 'decision_resolved', value: 'shipping' };
    const first = await store.decisions.resolve({
      id: 'dec_r',
      value: 'shipping',
      decidedBy: 'ana',
      at: T0 + 10,
      event,
    });
    expect(first).toMatchObject({
      status: 'resolved',
      value: 'shipping',
      decidedBy: 'ana',
      decidedAt: T0 + 10,
      events: [{ type: 'decision_started' }, event],
    });
    const second = await store.decisions.resolve({
      id: 'dec_r',
      value: 'billing',
      decidedBy: 'bo',
      at: T0 + 11,
      event,
    });
    expect(second).toBeUndefined();
    expect(await store.decisions.list({ status: 'review' })).toEqual([]);
    await store.decisions.linkRun('dec_r', 'run_1');
    expect(await store.decisions.get('dec_r')).toMatchObject({ startedRunId: 'run_1' });
  });
});
