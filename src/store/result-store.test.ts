import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { openStore, searchTerms, type Store, type StoredToolResult } from './index.js';
import { migrationProvider, type Database } from './schema.js';
import { POSTGRES_URL, storeLocations } from './__tests__/store-locations.js';

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

  it('finds the one result a short identifier names among near-identical ones', async () => {
    const store = await open();
    const records: StoredToolResult[] = [];
    let step = 0;
    const add = (content: string): void => {
      step += 1;
      records.push(result('run-a', step, content, 'trusted'));
    };
    // Records of one kind differ only in their identifier and a code; the newest come last.
    for (let box = 1; box <= 40; box++)
      add(`Locker record: the code for box ${box} is ${7000 + box * 7}.`);
    for (let pr = 1; pr <= 40; pr++) add(`Review log: PR-${pr} was merged as commit c${pr * 37}.`);
    for (const room of ['A1', 'A2', 'A7', 'A9', 'B3', 'B7'])
      add(`Booking: room ${room} is held, reference R${room}x.`);
    for (let version = 1; version <= 12; version++)
      add(`Release v${version}.0 shipped as build b${version * 11}.`);
    for (let ticket = 1; ticket <= 40; ticket++)
      add(`Ticket #${ticket}: refund of ${ticket * 3} euros issued.`);
    await store.results.put(records);

    // The terms as recall spells them: words, identifiers, and each identifier with its label.
    const first = async (terms: string[]): Promise<string | undefined> =>
      (await store.results.search({ runId: 'run-a', terms, limit: 3 }))[0]?.content;
    expect(await first(['code', 'box', '3', 'box 3'])).toBe(
      'Locker record: the code for box 3 is 7021.',
    );
    expect(await first(['commit', 'pr', '12', 'pr 12', 'merged'])).toBe(
      'Review log: PR-12 was merged as commit c444.',
    );
    expect(await first(['holds', 'room', 'a7', 'room a7'])).toBe(
      'Booking: room A7 is held, reference RA7x.',
    );
    expect(await first(['build', 'shipped', 'v2'])).toBe('Release v2.0 shipped as build b22.');
    expect(await first(['refund', 'ticket', '3', 'ticket 3'])).toBe(
      'Ticket #3: refund of 9 euros issued.',
    );
  });

  it('ranks results holding the same terms by how densely they hold them, not by recency', async () => {
    const store = await open();
    await store.results.put([
      result('run-a', 1, 'Zephyr vault audit.', 'trusted'),
      result('run-a', 2, `Zephyr vault audit. ${page(2)}`, 'trusted'),
      result('run-a', 3, page(3), 'trusted'),
    ]);
    const matches = await store.results.search({ runId: 'run-a', terms: ['zephyr', 'vault'] });
    expect(matches.map((match) => match.step)).toEqual([1, 2]);
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

describe('searchTerms', () => {
  it('keeps runs of letters and digits, lowercased, once each, several words as a phrase', () => {
    expect(
      searchTerms(['Zephyr', 'fetch_page', 'a"b', 'ZEPHYR', '7431', 'PR #12', '"', 'v2']),
    ).toEqual([
      { words: ['zephyr'], weight: 1 },
      { words: ['fetch', 'page'], weight: 3 },
      { words: ['a', 'b'], weight: 3 },
      { words: ['7431'], weight: 2 },
      { words: ['pr', '12'], weight: 3 },
      { words: ['v2'], weight: 2 },
    ]);
  });
});

describe('a result store made before short identifiers were indexed alike', () => {
  /** A store migrated only as far as `0007_decisions`, holding one result, then closed. */
  async function oldStore(db: Kysely<Database>, schema: string | undefined, content: string) {
    try {
      const migrator = new Migrator({
        db,
        provider: migrationProvider,
        migrationTableName: 'keel_migration',
        migrationLockTableName: 'keel_migration_lock',
        ...(schema ? { migrationTableSchema: schema } : {}),
      });
      // Kysely lists every schema's tables; another suite dropping its schema meanwhile makes
      // that fail with 3F000 (as the store's own migrate knows): try again.
      for (let attempt = 1; ; attempt++) {
        const { error } = await migrator.migrateTo('0007_decisions');
        if (!error) break;
        if ((error as { code?: unknown }).code !== '3F000' || attempt >= 20) throw error as Error;
      }
      const row = result('run-old', 4, content, 'untrusted');
      await db
        .insertInto('keel_context_results')
        .values({
          run_id: row.runId,
          ref: row.ref,
          step: row.step,
          call_id: row.callId,
          tool_name: row.toolName,
          content: row.content,
          trust: row.trust,
          source: row.source,
          created_at: row.createdAt,
        })
        .execute();
    } finally {
      await db.destroy();
    }
  }

  const CONTENT = 'Review log: PR-12 merged; v2.1 shipped; rooms A7/B3 held.';

  it.each([
    {
      name: 'sqlite file',
      make: async () => {
        const url = locations.sqliteFile();
        const { default: SqliteDatabase } = await import('libsql');
        const database = new SqliteDatabase(url.slice('sqlite:'.length));
        const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
        return { url, db, schema: undefined };
      },
    },
    {
      name: 'postgres',
      make: async () => {
        const url = locations.postgres('keel_rs_old');
        const schema = new URL(url).searchParams.get('schema') ?? '';
        const admin = new pg.Client({ connectionString: POSTGRES_URL });
        await admin.connect();
        await admin.query(`create schema ${schema}`);
        await admin.end();
        const pool = new pg.Pool({
          connectionString: POSTGRES_URL,
          max: 1,
          options: `-c search_path=${schema}`,
        });
        const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
        return { url, db, schema };
      },
    },
  ])('opens on $name and finds identifiers in results stored before', async ({ make }) => {
    const { url, db, schema } = await make();
    await oldStore(db, schema, CONTENT);
    const store = await openStore(url);
    opened.push(store);
    const find = async (terms: string[]): Promise<string[]> =>
      (await store.results.search({ runId: 'run-old', terms })).map((match) => match.ref);
    const ref = 'result:4:call_4_0';
    expect({
      pr: await find(['pr 12']),
      version: await find(['v2']),
      room: await find(['b3']),
    }).toEqual({ pr: [ref], version: [ref], room: [ref] });
  });
});
