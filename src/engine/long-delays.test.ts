import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { startHousekeeping } from './housekeeping.js';
import { createRuntime } from './runtime.js';

// A Node timer asked for more than 2^31 - 1 ms fires after 1 ms. Each case sets a period of
// 2^31 ms (about 24.9 days) and checks that nothing came round again within 80 ms of real time;
// before the periods were capped, each came round every millisecond.

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The store with `claimNext` counted. Methods are called on the store itself. */
function countingClaims(store: Store): { store: Store; claims: () => number } {
  let claims = 0;
  const counted = new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (property !== 'claimNext') return method;
      return (...args: unknown[]) => {
        claims += 1;
        return method(...args);
      };
    },
  });
  return { store: counted, claims: () => claims };
}

describe('periods longer than a timer can wait', () => {
  it("a worker's pollMs: an idle worker asks the store once, not every millisecond", async () => {
    const opened = await openStore('sqlite::memory:');
    closers.push(() => opened.close());
    const { store, claims } = countingClaims(opened);
    const agent = defineAgent({
      name: 'idle',
      instructions: 'Answer.',
      model: simulator({ script: () => ({ text: 'done' }) }),
    });
    const runtime = createRuntime({ store, agents: [agent] });
    closers.push(() => runtime.close());
    const worker = runtime.startWorker({ pollMs: 2 ** 31 });
    closers.push(() => worker.stop());
    await pause(80);
    expect(claims()).toBeLessThanOrEqual(2);
  });

  it("housekeeping's checkpointEveryMs: no checkpoint comes round within the period", async () => {
    const store = await openStore('sqlite::memory:', { auditKey: 'k' });
    closers.push(() => store.close());
    await store.audit.append([{ kind: 'tool_call', at: 1, data: {} }]);
    const stop = startHousekeeping({
      store,
      clock: { now: () => 1_000 },
      audit: { checkpointEveryMs: 2 ** 31 },
    });
    closers.push(stop);
    await pause(80);
    expect(await store.audit.checkpoints()).toEqual([]);
  });
});
