import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const created: string[] = [];
afterAll(async () => {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  for (const schema of created) await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
});

describe('openStore on a PostgreSQL database other processes share', () => {
  it('migrates while other schemas are created and dropped around it', async () => {
    const churn = new pg.Client({ connectionString: POSTGRES_URL });
    await churn.connect();
    let stop = false;
    let churned = 0;
    // Another tenant creating and dropping schemas with tables, as parallel test suites do.
    const churning = (async () => {
      while (!stop) {
        const other = `keel_churn_${randomBytes(4).toString('hex')}`;
        await churn.query(`create schema ${other}`);
        await churn.query(`create table ${other}.t (id serial primary key, v text)`);
        await churn.query(`drop schema ${other} cascade`);
        churned += 1;
      }
    })();
    const opened: string[] = [];
    try {
      for (let index = 0; index < 12; index++) {
        const schema = `keel_mr_${randomBytes(6).toString('hex')}`;
        created.push(schema);
        const store = await openStore(POSTGRES_URL, { postgresSchema: schema });
        opened.push(store.kind);
        await store.close();
      }
    } finally {
      stop = true;
      await churning;
      await churn.end();
    }
    expect({ opened: opened.length, churnedWhileOpening: churned > 0 }).toEqual({
      opened: 12,
      churnedWhileOpening: true,
    });
  });
});
