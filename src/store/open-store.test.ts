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
