import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../core/index.js';
import type { RunJournalStore } from '../store/index.js';
import { leaseKeeper, type LeaseKeeper } from './lease-keeper.js';

/*
 * The heartbeat renews the runs this process executes, except one whose row is still being
 * written (a renewal would find none and take the run for lost).
 */

const keepers: LeaseKeeper[] = [];
afterEach(() => {
  for (const keeper of keepers.splice(0)) keeper.stop();
});

/** A keeper over a store that records which runs each renewal asked for. */
function keeperWithRenewals(): { keeper: LeaseKeeper; renewed: string[][] } {
  const renewed: string[][] = [];
  const store = {
    renewLeases: ({ runIds }: { runIds: readonly string[] }) => {
      renewed.push([...runIds]);
      return Promise.resolve({ lost: [], cancelRequested: [] });
    },
  } as unknown as RunJournalStore;
  const keeper = leaseKeeper({ store, clock: systemClock, workerId: 'w', leaseMs: 150 });
  keepers.push(keeper);
  return { keeper, renewed };
}

describe('the lease keeper', () => {
  it('renews a run only once its creation is durable, and reports the creation meanwhile', async () => {
    const { keeper, renewed } = keeperWithRenewals();
    let created: () => void = () => undefined;
    const creation = new Promise<void>((resolve) => {
      created = resolve;
    });
    keeper.track('run_new', new AbortController(), creation);
    keeper.track('run_old', new AbortController());
    await vi.waitFor(
      () => {
        expect(renewed.length).toBeGreaterThanOrEqual(1);
      },
      { timeout: 10_000 },
    );
    expect(renewed.at(-1)).toEqual(['run_old']);
    expect(keeper.creation('run_new')).toBe(creation);
    created();
    await creation;
    expect(keeper.creation('run_new')).toBeUndefined();
    const before = renewed.length;
    await vi.waitFor(
      () => {
        expect(renewed.length).toBeGreaterThan(before);
      },
      { timeout: 10_000 },
    );
    expect(renewed.at(-1)).toEqual(['run_new', 'run_old']);
  });

  it('renews a run claimed again here while an earlier execution of it was still being created', async () => {
    const { keeper, renewed } = keeperWithRenewals();
    const first = new AbortController();
    keeper.track('run_a', first, new Promise<void>(() => undefined));
    // The row exists (this claim read it): the new execution is renewed, the first one aborted.
    const second = new AbortController();
    keeper.track('run_a', second);
    expect(first.signal.aborted).toBe(true);
    expect(keeper.creation('run_a')).toBeUndefined();
    await vi.waitFor(
      () => {
        expect(renewed.at(-1)).toEqual(['run_a']);
      },
      { timeout: 10_000 },
    );
  });
});
