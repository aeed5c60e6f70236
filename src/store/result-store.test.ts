import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore, searchWords, type Store, type StoredToolResult } from './index.js';
import { storeLocations } from './__tests__/store-locations.js';

/*
 * The result store's contract on a SQLite file, SQLite in memory and PostgreSQL: large tool
 * results are stored once, found by full-text relevance within their own run only, and read
 * back with their provenance label unchanged.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = [
  { name: 'sqlite file', url: () => locations.sqliteFile() },
  { name: 'sqlite memory', url: () => 'sqlite::memory:' },
  { name: 'postgres', url: () => locations.postgres('keel_rs') },
];

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0).reverse()) await store.close();
});

/** A page of shipping filler; `extra` is appended. */
function page(step: number, extra = ''): string {
  const lines = [`Archive page ${step}.`];
  for (let line = 0; line < 30; line += 1) {
    lines.push(
      `Shipment ${step}-${line}: crate k${(step * 31 + line) % 997} at dock d${line % 17}.`,
    );
  }
  return `${lines.join('\n')}\n${extra}`;
}

function result(runId: string, step: number, content: string, trust: 'trusted' | 'untrusted') {
  return {
    runId,
    ref: `result:${step}:call_${step}_0`,
    step,
    callId: `call_${step}_0`,
    toolName: 'fetch_page',
    content,
    trust,
    source: 'tool:fetch_page',
    createdAt: T0 + step,
  } satisfies StoredToolResult;
}

describe.each(BACKENDS)('result store on $name', (backend) => {
  async function open(): Promise<Store> {
    const store = await openStore(backend.url());
    opened.push(store);
    return store;
  }

  it('finds the result holding the rare words first, label intact, within its run only', async () => {
    const store = await open();
    const results: StoredToolResult[] = [];
    for (let step = 0; step < 40; step += 1) {
      const fact = step === 12 ? 'The Zephyr vault code is 7431.' : '';
      results.push(
        result('run-a', step, page(step, fact), step % 2 === 0 ? 'untrusted' : 'trusted'),
      );
    }
    // Another run holds the same words: it must never be recalled into run-a.
    results.push(result('run-b', 12, page(12, 'The Zephyr vault code is 0000.'), 'trusted'));
    await store.results.put(results);

    const matches = await store.results.search({
      runId: 'run-a',
      terms: ['zephyr', 'vault', 'code', 'archive', 'page'],
      limit: 3,
    });
    expect(matches.map((match) => match.ref)[0]).toBe('result:12:call_12_0');
    expect(matches.every((match) => match.runId === 'run-a')).toBe(true);
    expect(matches.length).toBeLessThanOrEqual(3);
    expect(matches[0]).toMatchObject({
      step: 12,
      toolName: 'fetch_page',
      trust: 'untrusted',
      source: 'tool:fetch_page',
    });
    expect(matches[0]?.content).toContain('The Zephyr vault code is 7431.');

    const other = await store.results.search({ runId: 'run-b', terms: ['zephyr'] });
    expect(other.map((match) => [match.ref, match.content.includes('0000')])).toEqual([
      ['result:12:call_12_0', true],
    ]);
  });

  it('finds nothing for words no result holds, or no words at all', async () => {
    const store = await open();
    await store.results.put([result('run-a', 1, page(1), 'trusted')]);
    expect(await store.results.search({ runId: 'run-a', terms: ['quasar'] })).toEqual([]);
    expect(await store.results.search({ runId: 'run-a', terms: ['"', 'OR', '*'] })).toEqual([]);
    expect(await store.results.search({ runId: 'run-a', terms: [] })).toEqual([]);
  });

  it('keeps the first copy of a result stored twice, and its label', async () => {
    const store = await open();
    await store.results.put([result('run-a', 3, page(3, 'first copy'), 'untrusted')]);
    await store.results.put([result('run-a', 3, page(3, 'second copy'), 'trusted')]);
    const stored = await store.results.get('run-a', 'result:3:call_3_0');
    expect(stored?.content).toContain('first copy');
    expect(stored?.trust).toBe('untrusted');
    const matches = await store.results.search({ runId: 'run-a', terms: ['copy'] });
    expect(matches).toHaveLength(1);
    expect(await store.results.get('run-a', 'result:4:call_4_0')).toBeUndefined();
  });

  it('treats query syntax in terms as plain words', async () => {
    const store = await open();
    await store.results.put([result('run-a', 5, page(5, 'alpha NEAR beta'), 'trusted')]);
    const matches = await store.results.search({
      runId: 'run-a',
      terms: ['alpha" OR "x', 'beta)|(', 'fetch_page'],
    });
    expect(matches.map((match) => match.step)).toEqual([5]);
  });
});

describe('searchWords', () => {
  it('keeps runs of letters and digits, lowercased and once each', () => {
    expect(searchWords(['Zephyr', 'fetch_page', 'a"b', 'ZEPHYR', '7431'])).toEqual([
      'zephyr',
      'fetch',
      'page',
      'a',
      'b',
      '7431',
    ]);
  });
});
