import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runKeel as keel } from './__tests__/keel-process.js';

/* `keel prune` and `keel audit checkpoint` as real processes: bad input is one line, exit 2. */

const directory = mkdtempSync(join(tmpdir(), 'keel-prune-cli-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('keel prune', () => {
  it('refuses bad durations and unfinished states in one line, and dry-runs a store', async () => {
    const storeUrl = `sqlite:${join(directory, 'prune.db')}`;
    const bad = await Promise.all([
      keel(storeUrl, ['prune', '--older-than', 'soon']),
      keel(storeUrl, ['prune', '--older-than', '30d', '--status', 'running']),
      keel(storeUrl, ['prune']),
    ]);
    expect(bad.map(({ code, stdout }) => [code, stdout])).toEqual([
      [2, ''],
      [2, ''],
      [2, ''],
    ]);
    for (const result of bad) expect(result.stderr).toMatch(/^keel: [^\n]+\n$/);
    expect(bad[1]?.stderr).toMatch(/never pruned/);
    const dry = await keel(storeUrl, ['prune', '--older-than', '30d', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, runs: 0, auditRows: 0 });
    const checkpoint = await keel(storeUrl, ['audit', 'checkpoint', '--json']);
    expect(checkpoint.code).toBe(0);
    expect(JSON.parse(checkpoint.stdout)).toMatchObject({ kind: 'head', seq: 0, signature: null });
    const verified = await keel(storeUrl, ['audit', 'verify', '--json']);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, entries: 0, keyed: false });
  }, 120_000);
});
