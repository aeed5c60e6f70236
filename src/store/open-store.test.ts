import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore } from './index.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function scratch(): string {
  const directory = mkdtempSync(join(tmpdir(), 'keel-open-'));
  directories.push(directory);
  return directory;
}

describe('openStore({ readOnly })', () => {
  it('refuses a SQLite file that does not exist, and creates nothing', async () => {
    const directory = join(scratch(), 'missing', 'dir');
    const error = await openStore(`sqlite:${join(directory, 'keel.db')}`, { readOnly: true }).catch(
      (caught: unknown) => caught,
    );
    expect(KeelError.isInstance(error) && error.code).toBe('not_found');
    expect((error as Error).message).toContain('nothing has been run there');
    expect(existsSync(directory)).toBe(false);
  });

  it('reads a store that writers made, without migrating it', async () => {
    const file = join(scratch(), 'keel.db');
    const writer = await openStore(`sqlite:${file}`);
    await writer.createRun({
      id: 'run_a',
      agent: 'a',
      task: 't',
      createdAt: 1,
      events: [],
    });
    await writer.close();
    const reader = await openStore(`sqlite:${file}`, { readOnly: true });
    try {
      expect((await reader.listRuns({ limit: 5 })).map((run) => run.id)).toEqual(['run_a']);
    } finally {
      await reader.close();
    }
  });

  it('says a store needs migrating instead of migrating it', async () => {
    const file = join(scratch(), 'keel.db');
    // An empty SQLite file: a store no Keel has migrated yet.
    const { default: SqliteDatabase } = await import('libsql');
    new SqliteDatabase(file).close();
    const error = await openStore(`sqlite:${file}`, { readOnly: true }).catch(
      (caught: unknown) => caught,
    );
    expect(KeelError.isInstance(error) && error.code).toBe('invalid_config');
    expect((error as Error).message).toMatch(/needs \d+ migration\(s\)/);
  });
});

describe('openStore on a store migrated before', () => {
  async function migrationNames(file: string): Promise<string[]> {
    const { default: SqliteDatabase } = await import('libsql');
    const database = new SqliteDatabase(file);
    try {
      const rows = database.prepare('select name from keel_migration order by name').all() as {
        name: string;
      }[];
      return rows.map((row) => row.name);
    } finally {
      database.close();
    }
  }

  it('runs a migration still pending', async () => {
    const file = join(scratch(), 'keel.db');
    await (await openStore(`sqlite:${file}`)).close();
    const all = await migrationNames(file);
    const last = all.at(-1) ?? '';
    // The newest migration makes the column below; a newer one needs its own named here.
    expect(last).toBe('0018_edited_input');
    const { default: SqliteDatabase } = await import('libsql');
    const database = new SqliteDatabase(file);
    database.prepare('delete from keel_migration where name = ?').run(last);
    database.exec('alter table keel_approvals drop column edited_input');
    database.close();
    const store = await openStore(`sqlite:${file}`);
    try {
      expect(await migrationNames(file)).toEqual(all);
      // The column the pending migration makes is back, and works.
      const reader = new SqliteDatabase(file);
      expect(
        reader.prepare('select count(edited_input) as n from keel_approvals').get(),
      ).toMatchObject({ n: 0 });
      reader.close();
    } finally {
      await store.close();
    }
  });

  it('runs a migration numbered before ones already run (a store of the release before)', async () => {
    // The release before shipped 0014 but not 0013, 0015, 0016, 0017: such a store must open.
    const file = join(scratch(), 'keel.db');
    await (await openStore(`sqlite:${file}`)).close();
    const all = await migrationNames(file);
    const { default: SqliteDatabase } = await import('libsql');
    const database = new SqliteDatabase(file);
    // Later migrations stay run: what matters is one missing before a run one.
    database.prepare('delete from keel_migration where name = ?').run('0013_shadow_and_versions');
    database.exec('drop table keel_shadow_pairs');
    database.exec('drop table keel_shadows');
    database.exec('drop index keel_runs_shadow_of');
    database.exec('alter table keel_runs drop column shadow_of');
    database.exec('alter table keel_runs drop column agent_version');
    database.close();
    const store = await openStore(`sqlite:${file}`);
    try {
      expect(await migrationNames(file)).toEqual(all);
      const run = await store.createRun({
        id: 'run_after_upgrade',
        agent: 'a',
        task: 't',
        createdAt: 1,
        events: [],
      });
      expect(run.id).toBe('run_after_upgrade');
    } finally {
      await store.close();
    }
  });

  it('refuses a store migrated by a version that knows more migrations', async () => {
    const file = join(scratch(), 'keel.db');
    await (await openStore(`sqlite:${file}`)).close();
    const { default: SqliteDatabase } = await import('libsql');
    const database = new SqliteDatabase(file);
    database
      .prepare('insert into keel_migration (name, timestamp) values (?, ?)')
      .run('0099_from_a_later_version', new Date(0).toISOString());
    database.close();
    const error = await openStore(`sqlite:${file}`).catch((caught: unknown) => caught);
    expect(KeelError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('0099_from_a_later_version');
  });
});
