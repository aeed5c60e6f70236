import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { auditHash, openStore, type AuditEntry, type Store } from '../store/index.js';
import { verifyAudit } from './audit-command.js';

/*
 * The keyed audit chain and its checkpoints against someone who can write the store but does
 * not hold the key: editing and re-hashing, removing the newest rows, removing every row,
 * forging a checkpoint. And what a plain chain without a checkpoint cannot see.
 */

const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = 'audit-key-kept-elsewhere';
const T0 = 1_700_000_000_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** Runs SQL against the store's database behind Keel's back; reads rows the same way. */
interface Backdoor {
  exec(sql: string): Promise<void>;
}

const BACKENDS: { name: string; prepare(): { url: string; backdoor: Backdoor } }[] = [
  {
    name: 'sqlite',
    prepare() {
      const directory = mkdtempSync(join(tmpdir(), 'keel-audit-cp-'));
      cleanups.push(() => {
        rmSync(directory, { recursive: true, force: true });
      });
      const file = join(directory, 'keel.db');
      return {
        url: `sqlite:${file}`,
        backdoor: {
          exec(sql) {
            const database = new Database(file);
            try {
              database.exec(sql);
            } finally {
              database.close();
            }
            return Promise.resolve();
          },
        },
      };
    },
  },
  {
    name: 'postgres',
    prepare() {
      const schema = `keel_acp_${randomBytes(6).toString('hex')}`;
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
        backdoor: { exec: (sql) => run(`set search_path to ${schema}; ${sql}`) },
      };
    },
  },
];

async function filled(url: string, key: string | undefined): Promise<Store> {
  const store = await openStore(url, { auditKey: key });
  opened.push(store);
  await store.audit.append(
    [1, 2, 3, 4, 5].map((n) => ({
      kind: 'tool_call',
      at: T0 + n,
      runId: `run_${n}`,
      data: { tool: 'refund', args: { n }, outcome: { ok: true, result: n * 10 } },
    })),
  );
  return store;
}

/** Edit row 3 and re-hash it and every later row as a plain chain: all an intruder can do. */
async function editAndRehash(store: Store, backdoor: Backdoor): Promise<void> {
  const rows = await store.audit.read();
  let prevHash = rows[1]?.hash ?? '';
  const statements: string[] = [];
  for (const row of rows.slice(2)) {
    const forged: Omit<AuditEntry, 'hash'> = {
      ...row,
      prevHash,
      payload: row.seq === 3 ? row.payload.replace('"result":30', '"result":3000') : row.payload,
    };
    const hash = auditHash(forged);
    statements.push(
      `update keel_audit set payload = '${forged.payload}', prev_hash = '${prevHash}', hash = '${hash}' where seq = ${row.seq}`,
    );
    prevHash = hash;
  }
  await backdoor.exec(statements.join('; '));
}

for (const backend of BACKENDS) {
  describe(`the audit chain on ${backend.name}`, () => {
    it('detects an edit re-hashed without the key when the chain is keyed', async () => {
      const { url, backdoor } = backend.prepare();
      const store = await filled(url, KEY);
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({ ok: true, keyed: true });
      await editAndRehash(store, backdoor);
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({
        ok: false,
        brokenAt: 3,
        problem: 'hash_mismatch',
      });
    });

    it('cannot see an edit re-hashed in a plain chain without a checkpoint, and sees it with one', async () => {
      const { url, backdoor } = backend.prepare();
      const store = await filled(url, undefined);
      const checkpoint = await store.audit.checkpoint({ at: T0 + 10 });
      expect(checkpoint.signature).toBeNull();
      await backdoor.exec('delete from keel_audit_checkpoints');
      await editAndRehash(store, backdoor);
      // The documented limit: a plain chain re-hashed end to end verifies.
      expect(await verifyAudit(store)).toMatchObject({ ok: true, keyed: false });
      // A checkpoint kept outside the store still pins the head.
      expect(await verifyAudit(store, { checkpoints: [checkpoint] })).toMatchObject({
        ok: false,
        brokenAt: 5,
        problem: 'checkpoint_mismatch',
      });
    });

    it('detects the newest rows removed, and every row removed, after a checkpoint', async () => {
      const { url, backdoor } = backend.prepare();
      const store = await filled(url, KEY);
      await store.audit.checkpoint({ at: T0 + 10 });
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({ ok: true, checkpoints: 1 });
      await backdoor.exec('delete from keel_audit where seq > 3');
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({
        ok: false,
        problem: 'truncated',
        entries: 3,
      });
      await backdoor.exec('delete from keel_audit');
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({
        ok: false,
        problem: 'truncated',
        entries: 0,
      });
    });

    it('refuses a checkpoint not signed with the key, and an intruder cannot hide a removed prefix', async () => {
      const { url, backdoor } = backend.prepare();
      const store = await filled(url, KEY);
      const rows = await store.audit.read();
      // Remove rows 1-2 and claim, with a made-up signature, that they were pruned.
      await backdoor.exec(
        `delete from keel_audit where seq <= 2; insert into keel_audit_checkpoints (id, kind, seq, head_hash, at, signature) values ('prune:2:1', 'prune', 2, '${rows[1]?.hash ?? ''}', 1, '${'ab'.repeat(32)}')`,
      );
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({
        ok: false,
        problem: 'checkpoint_forged',
      });
    });

    it('stays green after pruning a prefix, and appends go on from its signed checkpoint', async () => {
      const { url } = backend.prepare();
      const store = await filled(url, KEY);
      let removed = 0;
      for (let batch = -1; batch !== 0;) {
        batch = await store.audit.prune({ throughSeq: 5, at: T0 + 20, limit: 2 });
        removed += batch;
      }
      expect(removed).toBe(5);
      expect(await store.audit.read()).toEqual([]);
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({ ok: true, entries: 0 });
      const [next] = await store.audit.append([{ kind: 'tool_call', at: T0 + 30, data: {} }]);
      expect(next?.seq).toBe(6);
      expect(await verifyAudit(store, { key: KEY })).toMatchObject({ ok: true, entries: 1 });
      // Without the key the signed checkpoint proves nothing, but the keyed rows do not verify either.
      expect((await verifyAudit(store)).ok).toBe(false);
    });
  });
}
