import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AUDIT_GENESIS_HASH,
  auditHash,
  openStore,
  verifyAuditChain,
  type AuditEntry,
  type NewEvent,
  type Store,
} from './index.js';
import { storeLocations, storeTargets } from './__tests__/store-locations.js';

/*
 * Contract of the audit log port (one hash chain, appended by any process, and the entries a
 * journal write carries), run against every store implementation. Two stores on one database
 * stand for two worker processes.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

for (const target of storeTargets(locations, 'keel_al')) {
  describe(`audit log on ${target.name}`, () => {
    let store: Store;
    /** A second store on the same database, as another worker would have (in memory: the same). */
    let other: Store;

    beforeEach(async () => {
      const url = target.url();
      store = await openStore(url);
      other = target.shared ? await openStore(url) : store;
    });

    afterEach(async () => {
      if (other !== store) await other.close();
      await store.close();
    });

    it('chains appends from two stores into one log that verifies', async () => {
      const appended = await Promise.all([
        store.audit.append([
          { kind: 'tool_call', at: T0, runId: 'run_a', data: { b: 1, a: [1, 2] } },
          { kind: 'tool_call', at: T0 + 1, data: { n: 2 } },
        ]),
        other.audit.append([{ kind: 'approval_decision', at: T0 + 2, data: { n: 3 } }]),
        store.audit.append([{ kind: 'tool_call', at: T0 + 3, runId: 'run_b', data: null }]),
      ]);
      const rows = await store.audit.read();
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
        keyed: false,
        checkpoints: 0,
      });
      expect(await store.audit.read({ afterSeq: 2, limit: 1 })).toEqual([rows[2]]);
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
        other.audit.append([{ kind: 'approval_decision', at: T0, data: { n: 3 } }]),
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
      const rows = await store.audit.read();
      const numbers = rows.map((row) => (JSON.parse(row.payload) as { n: number }).n);
      expect(numbers.sort()).toEqual([1, 2, 3]);
      expect(verifyAuditChain(rows)).toMatchObject({ ok: true, entries: 3 });
      expect((await store.readEvents('run_x')).map((stored) => stored.seq)).toEqual([1, 2]);
    });

    it('continues the chain after the store is reopened', async () => {
      await store.audit.append([{ kind: 'tool_call', at: T0, data: 1 }]);
      await other.audit.append([{ kind: 'tool_call', at: T0, data: 2 }]);
      const rows: AuditEntry[] = await store.audit.read();
      expect(verifyAuditChain(rows)).toMatchObject({ ok: true, entries: 2 });
    });
  });
}
