import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_URL, storeTargets } from '../../test/support/store-targets.js';
import { openStore, verifyAuditChain, type Store } from './index.js';

const RUNS = 12;
const MAX_CLAIMS = 2;

/**
 * Claim counting under concurrent kills: four claimers race for runs whose every worker dies
 * at once (each claim's lease has already expired when it is taken). However the claims
 * interleave, a run is claimed `maxClaims` times plus the watchdog's once, each claim with its
 * `run_claimed` event, and then ended exactly once without another claim.
 */
for (const target of storeTargets('keel_cc_')) {
  describe(`claim counting under concurrent kills on ${target.name}`, () => {
    let store: Store;
    let dispose: (() => Promise<void>) | undefined;
    let claimers: Store[] = [];

    beforeAll(async () => {
      ({ store, dispose } = await target.open());
      const schema = /schema=(\w+)/.exec(store.location)?.[1];
      // PostgreSQL: four processes' worth of pools on one schema. SQLite: one store, four
      // claimers interleaving on it (one process is all SQLite serves).
      const others =
        target.name === 'postgres' && schema
          ? await Promise.all(
              [1, 2, 3].map(() => openStore(POSTGRES_URL, { postgresSchema: schema })),
            )
          : [store, store, store];
      claimers = [store, ...others];
    });

    afterAll(async () => {
      await Promise.all(claimers.filter((each) => each !== store).map((each) => each.close()));
      await dispose?.();
    });

    it('claims each run at most maxClaims + 1 times, each claim with its event, and ends it once', async () => {
      const now = Date.now();
      for (let index = 0; index < RUNS; index++)
        await store.createRun({
          id: `run-${String(index).padStart(2, '0')}`,
          agent: 'doomed',
          task: 't',
          createdAt: now + index,
          events: [],
        });
      const claimedBy = await Promise.all(
        claimers.map(async (claimer, index) => {
          let claims = 0;
          // Far more attempts than claims exist: every claimer keeps trying until none is left.
          for (let attempt = 0; attempt < RUNS * (MAX_CLAIMS + 2); attempt++) {
            const record = await claimer.claimNext({
              workerId: `dies-${index}`,
              now: Date.now(),
              leaseMs: -1,
              agents: ['doomed'],
              maxClaims: MAX_CLAIMS,
            });
            if (record?.status === 'running') claims += 1;
          }
          return claims;
        }),
      );
      const runs = await store.listRuns({ agent: 'doomed', limit: 100 });
      const journals = await Promise.all(
        runs.map(async (run) => (await store.readEvents(run.id)).map((entry) => entry.event)),
      );
      expect({
        claimsTaken: claimedBy.reduce((sum, count) => sum + count, 0),
        statuses: [...new Set(runs.map((run) => run.status))],
        claims: [...new Set(runs.map((run) => run.claims))],
        claimEvents: [
          ...new Set(
            journals.map((events) => events.filter((e) => e.type === 'run_claimed').length),
          ),
        ],
        finishes: [
          ...new Set(
            journals.map((events) => events.filter((e) => e.type === 'run_finished').length),
          ),
        ],
        reasons: [...new Set(runs.map((run) => (run.reason as { type: string }).type))],
      }).toEqual({
        claimsTaken: RUNS * (MAX_CLAIMS + 1),
        statuses: ['failed'],
        claims: [MAX_CLAIMS + 1],
        claimEvents: [MAX_CLAIMS + 1],
        finishes: [1],
        reasons: ['worker_lost'],
      });
      // Ended by the store, each run has its run_finished audit row, in an unbroken chain.
      const audit = await store.audit.read({ limit: 10_000 });
      const finished = audit.filter((row) => row.kind === 'run_finished');
      expect(finished.map((row) => row.runId).sort()).toEqual(runs.map((run) => run.id).sort());
      expect(new Set(finished.map((row) => JSON.parse(row.payload).reason))).toEqual(
        new Set(['worker_lost']),
      );
      expect(verifyAuditChain(audit).ok).toBe(true);
    });
  });
}
