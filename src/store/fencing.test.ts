import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type NewEvent } from './index.js';

const event = (seq: number): NewEvent => ({
  seq,
  at: seq,
  event: { type: 'run_claimed', workerId: 'w', claim: seq },
});

describe('journal fencing by claim', () => {
  it('refuses writes of a stale claim when the same worker re-claimed its own run', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await store.createRun({
        id: 'run_1',
        agent: 'a',
        task: 't',
        createdAt: 0,
        events: [event(1)],
        claimBy: { workerId: 'w', leaseUntil: 100 },
      });
      await store.append({
        runId: 'run_1',
        guard: { leaseOwner: 'w', claim: 1 },
        events: [event(2)],
      });

      // The heartbeat came too late: the lease expired and the same worker claimed it again.
      const reclaimed = await store.claimNext({ workerId: 'w', now: 1_000, leaseMs: 100 });
      expect(reclaimed?.claims).toBe(2);

      const stale = await store
        .append({ runId: 'run_1', guard: { leaseOwner: 'w', claim: 1 }, events: [event(3)] })
        .catch((error: unknown) => error);
      expect(KeelError.isInstance(stale) && stale.code).toBe('lease_lost');

      // The re-claim committed its `run_claimed` event (seq 3) with it.
      await store.append({
        runId: 'run_1',
        guard: { leaseOwner: 'w', claim: 2 },
        events: [event(4)],
      });
      const journal = (await store.readEvents('run_1')).map((stored) => [
        stored.seq,
        stored.event.type,
      ]);
      expect(journal.map(([seq]) => seq)).toEqual([1, 2, 3, 4]);
      expect(journal[2]).toEqual([3, 'run_claimed']);
    } finally {
      await store.close();
    }
  });
});
