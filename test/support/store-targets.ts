import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/index.js';

/** The PostgreSQL server the tests use (a random schema each, dropped afterwards). */
export const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Drop a test's PostgreSQL schema and everything in it. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

/** A store a test opens and disposes of. */
export interface StoreTarget {
  readonly name: 'sqlite' | 'postgres';
  open(): Promise<{ store: Store; dispose(): Promise<void> }>;
}

/**
 * SQLite in memory and PostgreSQL in a fresh schema named `<schemaPrefix><random>`, in that
 * order, for tests that run against both stores.
 *
 * ```ts
 * for (const target of storeTargets('keel_e_')) describe(target.name, () => { ... });
 * ```
 */
export function storeTargets(schemaPrefix: string): readonly [StoreTarget, StoreTarget] {
  return [
    {
      name: 'sqlite',
      async open() {
        const store = await openStore('sqlite::memory:');
        return { store, dispose: () => store.close() };
      },
    },
    {
      name: 'postgres',
      async open() {
        const schema = `${schemaPrefix}${randomBytes(6).toString('hex')}`;
        const dropSchema = () => dropPostgresSchema(schema);
        let store: Store;
        try {
          store = await openStore(POSTGRES_URL, { postgresSchema: schema });
        } catch (error) {
          await dropSchema();
          throw error;
        }
        return {
          store,
          async dispose() {
            await store.close();
            await dropSchema();
          },
        };
      },
    },
  ];
}
