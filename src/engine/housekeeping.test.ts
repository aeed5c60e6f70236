import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type AuditCheckpoint, type Store } from '../store/index.js';
import { startHousekeeping, type Every } from './housekeeping.js';

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** A scheduler the test ticks by hand. */
function manual(): Every & { tick(): void; periods: number[] } {
  const jobs: (() => void)[] = [];
  const periods: number[] = [];
  const schedule: Every = (ms, job) => {
    periods.push(ms);
    jobs.push(job);
    return () => {
      jobs.splice(jobs.indexOf(job), 1);
    };
  };
  return Object.assign(schedule, {
    tick() {
      for (const job of jobs) job();
    },
    periods,
  });
}

describe('startHousekeeping', () => {
  it('records a signed audit checkpoint each period and hands it over', async () => {
    const store = await openStore('sqlite::memory:', { auditKey: 'k' });
    opened.push(store);
    await store.audit.append([{ kind: 'tool_call', at: 1, data: {} }]);
    const every = manual();
    const shipped: AuditCheckpoint[] = [];
    const stop = startHousekeeping({
      store,
      clock: { now: () => 1_000 },
      audit: {
        checkpointEveryMs: 60_000,
        onCheckpoint: (checkpoint) => void shipped.push(checkpoint),
      },
      every,
    });
    every.tick();
    await stop();
    expect(every.periods).toEqual([60_000]);
    expect(shipped).toEqual([
      expect.objectContaining({ kind: 'head', seq: 1, at: 1_000, signature: expect.any(String) }),
    ]);
    expect(await store.audit.checkpoints()).toEqual(shipped);
  });

  it('schedules nothing unless asked, and refuses a period that would flood the store', async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    const every = manual();
    await startHousekeeping({ store, clock: { now: () => 0 }, every })();
    expect(every.periods).toEqual([]);
    const error = ((): unknown => {
      try {
        startHousekeeping({
          store,
          clock: { now: () => 0 },
          audit: { checkpointEveryMs: 5 },
          every,
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(KeelError.isInstance(error) && error.code).toBe('invalid_config');
  });
});
