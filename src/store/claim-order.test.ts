import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { POSTGRES_URL, storeTargets } from '../../test/support/store-targets.js';
import { DEFAULT_LIMITS } from '../journal/index.js';
import { openStore, type ShadowClaims, type Store } from './index.js';

const T0 = 1_700_000_000_000;

for (const target of storeTargets('keel_co_')) {
  describe(`claim order on ${target.name}`, () => {
    let store: Store;
    let dispose: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      await dispose?.();
      ({ store, dispose } = await target.open());
    });

    afterAll(async () => {
      await dispose?.();
    });

    async function queue(agent: string, count: number, createdAt: number): Promise<void> {
      for (let index = 0; index < count; index++) {
        await store.createRun({
          id: `${agent}-${String(index).padStart(3, '0')}`,
          agent,
          task: 't',
          createdAt: createdAt + index,
          events: [],
        });
      }
    }

    async function claimAll(options: {
      maxConcurrentRuns?: Record<string, number>;
    }): Promise<string[]> {
      const claimed: string[] = [];
      for (;;) {
        const record = await store.claimNext({
          workerId: 'w',
          now: T0 + 1_000,
          leaseMs: 60_000,
          agents: ['noisy', 'quiet'],
          ...options,
        });
        if (!record) return claimed;
        claimed.push(record.agent);
      }
    }

    it('serves the agent with fewer runs in flight first, so a backlog does not starve another agent', async () => {
      await queue('noisy', 6, T0);
      await queue('quiet', 2, T0 + 100);
      expect((await claimAll({})).slice(0, 4)).toEqual(['noisy', 'quiet', 'noisy', 'quiet']);
    });

    it('skips an agent at its maxConcurrentRuns and claims it again once a run ends', async () => {
      await queue('noisy', 6, T0);
      await queue('quiet', 2, T0 + 100);
      expect(await claimAll({ maxConcurrentRuns: { noisy: 2 } })).toEqual([
        'noisy',
        'quiet',
        'noisy',
        'quiet',
      ]);
      await store.append({
        runId: 'noisy-000',
        guard: { leaseOwner: 'w' },
        events: [],
        finish: {
          status: 'succeeded',
          reason: { type: 'final_answer' },
          output: 'ok',
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          steps: 1,
          at: T0 + 1_000,
        },
      });
      expect(await claimAll({ maxConcurrentRuns: { noisy: 2 } })).toEqual(['noisy']);
    });

    /** A queued run of `desk`; a shadow run (of `run_p`) when `shadow`. */
    async function queueRun(id: string, createdAt: number, shadow: boolean): Promise<void> {
      await store.createRun({
        id,
        agent: 'desk',
        task: 't',
        createdAt,
        events: [
          {
            seq: 1,
            at: createdAt,
            event: {
              type: 'run_started',
              agent: 'desk',
              task: 't',
              taskProvenance: { trust: 'trusted', source: 'task' },
              model: { provider: 'simulator', modelId: 'scripted' },
              limits: DEFAULT_LIMITS,
              startedAt: createdAt,
              ...(shadow ? { shadowOf: 'run_p', shadowId: 'sh_1' } : {}),
            },
          },
        ],
      });
    }

    async function claimKinds(shadows: ShadowClaims | undefined): Promise<string[]> {
      const claimed: string[] = [];
      for (;;) {
        const record = await store.claimNext({
          workerId: 'w',
          now: T0 + 1_000,
          leaseMs: 60_000,
          agents: ['desk'],
          ...(shadows === undefined ? {} : { shadows }),
        });
        if (!record) return claimed;
        claimed.push(record.id);
      }
    }

    it('claims production runs before older shadow runs, then the shadow runs', async () => {
      await queueRun('shadow-1', T0, true);
      await queueRun('shadow-2', T0 + 1, true);
      await queueRun('prod-1', T0 + 2, false);
      await queueRun('prod-2', T0 + 3, false);
      expect(await claimKinds(undefined)).toEqual(['prod-1', 'prod-2', 'shadow-1', 'shadow-2']);
    });

    it('claims no shadow run for shadows: never, and only shadow runs for shadows: only', async () => {
      await queueRun('shadow-1', T0, true);
      await queueRun('prod-1', T0 + 1, false);
      expect(await claimKinds('never')).toEqual(['prod-1']);
      await queueRun('prod-2', T0 + 2, false);
      expect(await claimKinds('only')).toEqual(['shadow-1']);
      expect(await claimKinds('also')).toEqual(['prod-2']);
    });

    it('orders production before shadow runs with a concurrency bound too', async () => {
      await queueRun('shadow-1', T0, true);
      await queueRun('prod-1', T0 + 1, false);
      const first = await store.claimNext({
        workerId: 'w',
        now: T0 + 1_000,
        leaseMs: 60_000,
        agents: ['desk', 'other'],
        maxConcurrentRuns: { desk: 1 },
      });
      expect(first?.id).toBe('prod-1');
    });

    it('claims every run of an unbounded agent', async () => {
      await queue('noisy', 4, T0);
      expect(await claimAll({ maxConcurrentRuns: { quiet: 1 } })).toEqual([
        'noisy',
        'noisy',
        'noisy',
        'noisy',
      ]);
    });

    if (target.name === 'postgres') {
      it('holds the bound when four workers claim at once', async () => {
        await queue('noisy', 40, T0);
        const schema = /schema=(\w+)/.exec(store.location)?.[1] ?? '';
        const others = await Promise.all(
          [1, 2, 3].map(() => openStore(POSTGRES_URL, { postgresSchema: schema })),
        );
        try {
          const stores = [store, ...others];
          const claimed = await Promise.all(
            stores.map(async (each, index) => {
              const mine: string[] = [];
              for (let round = 0; round < 10; round++) {
                const record = await each.claimNext({
                  workerId: `w${index}`,
                  now: T0 + 1_000,
                  leaseMs: 60_000,
                  agents: ['noisy', 'quiet'],
                  maxConcurrentRuns: { noisy: 3 },
                });
                if (record) mine.push(record.id);
              }
              return mine;
            }),
          );
          const running = await store.listRuns({ statuses: ['running'], limit: 100 });
          expect([claimed.flat().length, running.length]).toEqual([3, 3]);
        } finally {
          await Promise.all(others.map((each) => each.close()));
        }
      });
    }
  });
}
