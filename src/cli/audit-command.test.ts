import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'libsql';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../index.js';

/*
 * `keel audit verify` as a real process: an intact log verifies (exit 0); editing any row's
 * content, reordering rows or removing one is reported at the first broken link (exit 1).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

interface Verify {
  status: number | null;
  json: { ok: boolean; entries: number; brokenAt?: number; problem?: string };
}

function verify(storeUrl: string): Verify {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', MAIN, '--store', storeUrl, 'audit', 'verify', '--json'],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } },
  );
  if (result.error) throw result.error;
  try {
    return { status: result.status, json: JSON.parse(result.stdout) as Verify['json'] };
  } catch {
    throw new Error(`keel audit verify exited ${String(result.status)}: ${result.stderr}`);
  }
}

/** Runs SQL against the store's database behind Keel's back. */
type Tamper = (sql: string) => Promise<void>;

const BACKENDS: { name: string; prepare(): { url: string; tamper: Tamper } }[] = [
  {
    name: 'sqlite',
    prepare() {
      const directory = mkdtempSync(join(tmpdir(), 'keel-audit-'));
      cleanups.push(() => {
        rmSync(directory, { recursive: true, force: true });
      });
      const file = join(directory, 'keel.db');
      return {
        url: `sqlite:${file}`,
        tamper: (sql) => {
          const database = new Database(file);
          try {
            database.exec(sql);
          } finally {
            database.close();
          }
          return Promise.resolve();
        },
      };
    },
  },
  {
    name: 'postgres',
    prepare() {
      const schema = `keel_au_${randomBytes(6).toString('hex')}`;
      const run = async (sql: string) => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      };
      cleanups.push(() => run(`drop schema if exists ${schema} cascade`));
      return {
        url: `${POSTGRES_URL}?schema=${schema}`,
        tamper: (sql) => run(`set search_path to ${schema}; ${sql}`),
      };
    },
  },
];

for (const backend of BACKENDS) {
  describe(`keel audit verify on ${backend.name}`, () => {
    it('passes an intact log and reports the first broken link after an edit, a reorder or a removal', async () => {
      const { url, tamper } = backend.prepare();
      const store = await openStore(url);
      async function resetLog(): Promise<void> {
        await tamper('delete from keel_audit');
        await store.audit.append(
          [1, 2, 3, 4, 5].map((n) => ({
            kind: 'tool_call',
            at: 1_700_000_000_000 + n,
            runId: `run_${n}`,
            data: { tool: 'lookup', args: { n }, outcome: { ok: true, result: n * 10 } },
          })),
        );
      }
      try {
        await resetLog();
        expect(verify(url)).toEqual({
          status: 0,
          json: expect.objectContaining({ ok: true, entries: 5 }) as unknown,
        });

        await tamper(
          `update keel_audit set payload = replace(payload, '"result":30', '"result":31') where seq = 3`,
        );
        expect(verify(url)).toEqual({
          status: 1,
          json: expect.objectContaining({
            ok: false,
            brokenAt: 3,
            problem: 'hash_mismatch',
            entries: 2,
          }) as unknown,
        });

        await resetLog();
        await tamper(
          'update keel_audit set seq = -1 where seq = 2; update keel_audit set seq = 2 where seq = 4; update keel_audit set seq = 4 where seq = -1',
        );
        expect(verify(url).json).toMatchObject({ ok: false, brokenAt: 2 });

        await resetLog();
        await tamper('delete from keel_audit where seq = 4');
        expect(verify(url).json).toMatchObject({ ok: false, brokenAt: 4, problem: 'seq_gap' });
      } finally {
        await store.close();
      }
    }, 120_000);
  });
}

describe('keel audit', () => {
  it('is listed in --help, with verify listed in its own help', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const top = run(['--help']);
    const audit = run(['audit', '--help']);
    const bad = run(['audit', 'verify', '--bogus']);
    expect({
      top: top.stdout.match(/^ {2}audit\b/m)?.[0],
      audit: audit.stdout.match(/^ {2}verify \[options\]/m)?.[0],
      bad: [bad.status, bad.stderr.trim().split('\n').length],
    }).toEqual({ top: '  audit', audit: '  verify [options]', bad: [2, 1] });
  }, 60_000);
});
