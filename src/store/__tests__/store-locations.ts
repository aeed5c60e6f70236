import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import { openStore, type Store } from '../index.js';

/*
 * Where the store contract suites open their stores: a fresh SQLite file, SQLite in memory, or
 * a fresh schema in the test PostgreSQL database. Each location handed out is removed by
 * `cleanup`. Test support only: the published build leaves `__tests__` folders out.
 */

export const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface StoreLocations {
  /** A store URL for a SQLite file in a new temporary directory. */
  sqliteFile(): string;
  /** A store URL for a new schema, named `<prefix>_<random hex>`, in the test database. */
  postgres(prefix: string): string;
  /** Removes every directory and schema handed out so far. */
  cleanup(): Promise<void>;
}

export function storeLocations(): StoreLocations {
  const directories: string[] = [];
  const schemas: string[] = [];
  return {
    sqliteFile() {
      const directory = mkdtempSync(join(tmpdir(), 'keel-'));
      directories.push(directory);
      return `sqlite:${join(directory, 'keel.db')}`;
    },
    postgres(prefix) {
      const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return `${POSTGRES_URL}?schema=${schema}`;
    },
    async cleanup() {
      for (const directory of directories.splice(0)) {
        rmSync(directory, { recursive: true, force: true });
      }
      if (schemas.length === 0) return;
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        for (const schema of schemas.splice(0)) {
          await client.query(`drop schema if exists ${schema} cascade`);
        }
      } finally {
        await client.end();
      }
    },
  };
}

/** One store implementation a port's contract suite runs against. */
export interface StoreTarget {
  readonly name: 'sqlite file' | 'sqlite memory' | 'postgres';
  /** A fresh, empty location each call. */
  url(): string;
  /**
   * Whether a second `openStore` on the same URL reaches the same data (as another worker
   * process would). Not in memory: there, each open is a new database.
   */
  readonly shared: boolean;
}

/** Every store implementation: a SQLite file, SQLite in memory and a PostgreSQL schema. */
export function storeTargets(locations: StoreLocations, prefix: string): readonly StoreTarget[] {
  return [
    { name: 'sqlite file', url: () => locations.sqliteFile(), shared: true },
    { name: 'sqlite memory', url: () => 'sqlite::memory:', shared: false },
    { name: 'postgres', url: () => locations.postgres(prefix), shared: true },
  ];
}

/**
 * The three places a store contract suite runs on (a SQLite file, SQLite in memory, a fresh
 * PostgreSQL schema named after `prefix`), with `open`, whose stores are closed after each
 * test; the locations are removed after the suite. Call at a suite file's top level.
 */
export function contractStores(prefix: string): {
  readonly backends: readonly { readonly name: string; readonly url: () => string }[];
  open(backend: { readonly url: () => string }): Promise<Store>;
} {
  const locations = storeLocations();
  afterAll(() => locations.cleanup());
  const opened: Store[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0).reverse()) await store.close();
  });
  return {
    backends: storeTargets(locations, prefix),
    async open(backend) {
      const store = await openStore(backend.url());
      opened.push(store);
      return store;
    },
  };
}
