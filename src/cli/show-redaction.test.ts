import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, defineAgent, openStore, simulator } from '../index.js';
import { runKeel as keel } from './__tests__/keel-process.js';

/*
 * `keel show` does not print card numbers or national ids unless asked to (--reveal), and
 * `keel erase` removes them from what is stored while the audit log still verifies.
 */

const directory = mkdtempSync(join(tmpdir(), 'keel-show-redaction-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const CARD = '4111 1111 1111 1111';
const SSN = '123-45-6789';

describe('keel show', () => {
  it('redacts card numbers and national ids, in text and JSON, unless --reveal', async () => {
    const storeUrl = `sqlite:${join(directory, 'show.db')}`;
    const store = await openStore(storeUrl);
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'echo',
          instructions: 'Echo.',
          model: simulator({ script: () => ({ text: `card ${CARD}, id ${SSN}` }) }),
        }),
      ],
    });
    const run = await runtime.run('echo', `charge ${CARD} for ${SSN}`);
    await runtime.close();
    await store.close();
    const [text, json, revealed] = await Promise.all([
      keel(storeUrl, ['show', run.id]),
      keel(storeUrl, ['show', run.id, '--json']),
      keel(storeUrl, ['show', run.id, '--reveal']),
    ]);
    for (const result of [text, json]) {
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain(CARD);
      expect(result.stdout).not.toContain(SSN);
      expect(result.stdout).toContain('[redacted:card_number]');
    }
    expect(revealed.stdout).toContain(CARD);

    // A data-protection request: gone from what is stored, so --reveal shows it no more.
    expect((await keel(storeUrl, ['erase', run.id])).code).toBe(0);
    const erased = await keel(storeUrl, ['show', run.id, '--reveal']);
    expect(erased.stdout).not.toContain(CARD);
    expect(erased.stdout).not.toContain(SSN);
    const unknown = await keel(storeUrl, ['erase', 'run_nope']);
    expect([unknown.code, unknown.stdout]).toEqual([2, '']);
    expect(unknown.stderr).toMatch(/^keel: no run run_nope\n$/);
    const verified = await keel(storeUrl, ['audit', 'verify', '--json']);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
  }, 120_000);
});
