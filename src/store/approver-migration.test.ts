import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { migrationProvider, type Database } from './schema.js';
import { POSTGRES_URL, storeLocations } from './__tests__/store-locations.js';

/*
 * A store made before approvers had ids, expiry, revocation and unique names migrates forward:
 * every approver gets an id and keeps its token, and a duplicated name keeps the oldest holder.
 */

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BEFORE = '0014_provider_budgets';

async function oldStore(db: Kysely<Database>, schema: string | undefined): Promise<void> {
  try {
    const migrator = new Migrator({
      db,
      provider: migrationProvider,
      migrationTableName: 'keel_migration',
      migrationLockTableName: 'keel_migration_lock',
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    for (let attempt = 1; ; attempt++) {
      const { error } = await migrator.migrateTo(BEFORE);
      if (!error) break;
      if ((error as { code?: unknown }).code !== '3F000' || attempt >= 20) throw error as Error;
    }
    await db
      .insertInto('keel_approvers')
      .values(
        [
          ['aaaa1111bbbb2222', 'ana', 1],
          ['cccc3333dddd4444', 'ana', 2],
          ['eeee5555ffff6666', 'bob', 3],
        ].map(([token_hash, name, created_at]) => ({
          token_hash: token_hash as string,
          name: name as string,
          groups: '["finance"]',
          created_at: created_at as number,
        })),
      )
      .execute();
  } finally {
    await db.destroy();
  }
}

describe('approvers in a store made before migration 0016', () => {
  it.each([
    {
      name: 'sqlite file',
      make: async () => {
        const url = locations.sqliteFile();
        const { default: SqliteDatabase } = await import('libsql');
        const database = new SqliteDatabase(url.slice('sqlite:'.length));
        return {
          url,
          db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }),
          schema: undefined as string | undefined,
        };
      },
    },
    {
      name: 'postgres',
      make: async () => {
        const url = locations.postgres('keel_apm_old');
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
        return {
          url,
          db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
          schema,
        };
      },
    },
  ])('get ids and unique names on $name', async ({ make }) => {
    const made = await make();
    await oldStore(made.db, made.schema);
    const store = await openStore(made.url);
    try {
      expect(
        (await store.approvals.listApprovers()).map(({ id, name, expiresAt, revokedAt }) => ({
          id,
          name,
          expiresAt,
          revokedAt,
        })),
      ).toEqual([
        { id: 'apv_aaaa1111bbbb2222', name: 'ana', expiresAt: null, revokedAt: null },
        { id: 'apv_cccc3333dddd4444', name: 'ana-cccc3333', expiresAt: null, revokedAt: null },
        { id: 'apv_eeee5555ffff6666', name: 'bob', expiresAt: null, revokedAt: null },
      ]);
      expect((await store.approvals.findApprover('cccc3333dddd4444'))?.name).toBe('ana-cccc3333');
    } finally {
      await store.close();
    }
  });
});
