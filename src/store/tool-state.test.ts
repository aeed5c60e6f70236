import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AUDIT_GENESIS_HASH,
  auditHash,
  openStore,
  verifyAuditChain,
  type AuditEntry,
  type NewEvent,
  type Store,
  type ToolBreakerRecord,
} from './index.js';
import { storeLocations } from './__tests__/store-locations.js';

/*
 * Contract of the tool layer's shared state (breakers, result cache, audit log), run against
 * every store implementation. Two stores on one database stand for two worker processes.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS: readonly { name: string; url: () => string }[] = [
  { name: 'sqlite', url: () => locations.sqliteFile() },
  { name: 'postgres', url: () => locations.postgres('keel_ts') },
];

function breaker(changes: Partial<ToolBreakerRecord> = {}): ToolBreakerRecord {
  return {
    tool: 'lookup',
    state: 'closed',
    failures: 1,
    until: 0,
    updatedAt: T0,
    version: 0,
    ...changes,
  };
}

for (const backend of BACKENDS) {
  describe(`tool state on ${backend.name}`, () => {
    let store: Store;
    let other: Store;

    beforeEach(async () => {
      const url = backend.url();
      store = await openStore(url);
      other = await openStore(url);
    });

    afterEach(async () => {
      await other.close();
      await store.close();
    });

    describe('breakers', () => {
      it('creates a breaker once and updates it only at the expected version', async () => {
        expect(await store.getToolBreaker('lookup')).toBeUndefined();
        expect(await store.putToolBreaker(breaker(), 0)).toBe(true);
        // A second creator loses: the row exists.
        expect(await other.putToolBreaker(breaker({ failures: 9 }), 0)).toBe(false);
        expect(await other.getToolBreaker('lookup')).toEqual(breaker({ version: 1 }));

        const open = breaker({ state: 'open', failures: 5, until: T0 + 1_000 });
        expect(await other.putToolBreaker(open, 1)).toBe(true);
        // A writer that read version 1 is refused once version 2 exists.
        expect(await store.putToolBreaker(breaker({ failures: 2 }), 1)).toBe(false);
        expect(await store.getToolBreaker('lookup')).toEqual({ ...open, version: 2 });
      });
    });

    describe('result cache', () => {
      it('returns an entry until it expires and replaces it on a second put', async () => {
        const entry = {
          key: 'k1',
          tool: 'lookup',
          value: '{"a":1}',
          createdAt: T0,
          expiresAt: T0 + 100,
        };
        await store.putCachedToolResult(entry, T0);
        expect(await other.getCachedToolResult('k1', T0 + 99)).toEqual(entry);
        expect(await other.getCachedToolResult('k1', T0 + 100)).toBeUndefined();
        expect(await other.getCachedToolResult('k2', T0)).toBeUndefined();
        const replaced = { ...entry, value: '"b"', createdAt: T0 + 200, expiresAt: T0 + 300 };
        await other.putCachedToolResult(replaced, T0 + 200);
        expect(await store.getCachedToolResult('k1', T0 + 250)).toEqual(replaced);
      });
    });

    describe('audit log', () => {
      it('chains appends from two stores into one log that verifies', async () => {
        const appended = await Promise.all([
          store.appendAudit([
            { kind: 'tool_call', at: T0, runId: 'run_a', data: { b: 1, a: [1, 2] } },
            { kind: 'tool_call', at: T0 + 1, data: { n: 2 } },
          ]),
          other.appendAudit([{ kind: 'approval_decision', at: T0 + 2, data: { n: 3 } }]),
          store.appendAudit([{ kind: 'tool_call', at: T0 + 3, runId: 'run_b', data: null }]),
        ]);
        const rows = await store.readAudit();
        expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4]);
        expect(appended.flat().sort((a, b) => a.seq - b.seq)).toEqual(rows);
        expect(rows[0]?.prevHash).toBe(AUDIT_GENESIS_HASH);
        // One append's entries stay together and in order; keys are stored canonically.
        const first = rows.findIndex((row) => row.runId === 'run_a');
        expect(rows.slice(first, first + 2).map((row) => row.payload)).toEqual([
          '{"a":[1,2],"b":1}',
          '{"n":2}',
        ]);
        for (const [index, row] of rows.entries()) {
          expect(row.hash).toBe(auditHash(row));
          if (index > 0) expect(row.prevHash).toBe(rows[index - 1]?.hash);
        }
        expect(verifyAuditChain(rows)).toEqual({
          ok: true,
          entries: 4,
          headHash: rows[3]?.hash,
        });
        expect(await store.readAudit({ afterSeq: 2, limit: 1 })).toEqual([rows[2]]);
      });

      it('commits entries carried by a journal write with it, and drops them with a refused one', async () => {
        const event = (seq: number): NewEvent => ({
          seq,
          at: T0 + seq,
          event: { type: 'run_claimed', workerId: 'w1', claim: seq },
        });
        await store.createRun({
          id: 'run_x',
          agent: 'a',
          task: 't',
          createdAt: T0,
          events: [event(1)],
          claimBy: { workerId: 'w1', leaseUntil: T0 + 60_000 },
        });
        const entry = (n: number) => ({
          kind: 'tool_call',
          at: T0 + n,
          runId: 'run_x',
          data: { n },
        });
        await Promise.all([
          store.append({
            runId: 'run_x',
            guard: { leaseOwner: 'w1' },
            events: [event(2)],
            audit: [entry(1), entry(2)],
          }),
          other.appendAudit([{ kind: 'approval_decision', at: T0, data: { n: 3 } }]),
        ]);
        // A writer that does not hold the run: neither its events nor its audit rows land.
        await expect(
          other.append({
            runId: 'run_x',
            guard: { leaseOwner: 'w2' },
            events: [event(3)],
            audit: [entry(4)],
          }),
        ).rejects.toMatchObject({ code: 'lease_lost' });
        const rows = await store.readAudit();
        const numbers = rows.map((row) => (JSON.parse(row.payload) as { n: number }).n);
        expect(numbers.sort()).toEqual([1, 2, 3]);
        expect(verifyAuditChain(rows)).toMatchObject({ ok: true, entries: 3 });
        expect((await store.readEvents('run_x')).map((stored) => stored.seq)).toEqual([1, 2]);
      });

      it('continues the chain after the store is reopened', async () => {
        await store.appendAudit([{ kind: 'tool_call', at: T0, data: 1 }]);
        await other.appendAudit([{ kind: 'tool_call', at: T0, data: 2 }]);
        const rows: AuditEntry[] = await store.readAudit();
        expect(verifyAuditChain(rows)).toMatchObject({ ok: true, entries: 2 });
      });
    });
  });
}
