import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator, type ModelAdapterV1 } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, type Runtime } from './index.js';
import { ProductionLoad } from './production-load.js';

/** A desk whose `lookup` waits for `gate.open()` while `gate.closed`. */
function desk(version: string, gate: { closed: boolean; waiters: (() => void)[] }): Agent {
  return defineAgent({
    name: 'desk',
    version,
    model: simulator({
      script: [{ toolCalls: [{ name: 'lookup', args: { id: 'A-1' } }] }, { text: `ok ${version}` }],
    }),
    instructions: 'You look things up.',
    tools: [
      defineTool({
        name: 'lookup',
        description: 'Look a thing up',
        input: z.object({ id: z.string() }),
        effect: 'read',
        run: () =>
          gate.closed
            ? new Promise((resolve) => {
                gate.waiters.push(() => {
                  resolve({ found: true });
                });
              })
            : Promise.resolve({ found: true }),
      }),
    ],
  });
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('shadow runs give way to production runs', () => {
  let store: Store | undefined;
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    await store?.close();
  });

  async function setUp() {
    store = await openStore('sqlite::memory:');
    const gate = { closed: false, waiters: [] as (() => void)[] };
    const candidate = desk('v2', gate);
    const runtime = createRuntime({
      store,
      agents: [desk('v1', gate)],
      candidates: [candidate],
      leaseMs: 60_000,
    });
    runtimes.push(runtime);
    await runtime.shadows.start({ agent: 'desk', candidate, share: 1, maxConcurrent: 10 });
    return { store, runtime, gate };
  }

  async function shadowRunOf(store: Store, runId: string): Promise<string> {
    for (let tries = 0; tries < 1_000; tries++) {
      const pair = (await store.shadows.pairs()).find((each) => each.runId === runId);
      if (pair && (await store.getRun(pair.candidateRunId))) return pair.candidateRunId;
      await tick(5);
    }
    throw new Error(`no shadow run for ${runId}`);
  }

  it('claims no shadow run while a production run executes in the process, and claims it after', async () => {
    const { store, runtime, gate } = await setUp();
    const first = await runtime.run('desk', 'Look A-1 up');
    const shadowRunId = await shadowRunOf(store, first.id);
    gate.closed = true;
    const second = runtime.run('desk', 'Look A-1 up again');
    while (gate.waiters.length === 0) await tick(2);
    runtime.startWorker({ pollMs: 5 });
    // Many polls while the production run is held: none of them takes the shadow run.
    await tick(150);
    expect((await store.getRun(shadowRunId))?.status).toBe('queued');
    gate.closed = false;
    for (const open of gate.waiters.splice(0)) open();
    const secondResult = await second;
    expect((await runtime.wait(shadowRunId, { pollMs: 5 })).status).toBe('succeeded');
    const finishedAt = (await store.readEvents(secondResult.id)).find(
      (entry) => entry.event.type === 'run_finished',
    )?.at;
    const claimedAt = (await store.readEvents(shadowRunId)).find(
      (entry) => entry.event.type === 'run_claimed',
    )?.at;
    expect(claimedAt).toBeGreaterThanOrEqual(finishedAt ?? Infinity);
  });

  it("leaves shadow runs to other workers with shadows: 'never', and runs only them with 'only'", async () => {
    const { store, runtime } = await setUp();
    const first = await runtime.run('desk', 'Look A-1 up');
    const shadowRunId = await shadowRunOf(store, first.id);
    const never = runtime.startWorker({ pollMs: 5, shadows: 'never' });
    const queued = await runtime.submit('desk', 'Look A-2 up');
    expect((await runtime.wait(queued.id, { pollMs: 5 })).status).toBe('succeeded');
    await tick(50);
    expect((await store.getRun(shadowRunId))?.status).toBe('queued');
    await never.stop();
    runtime.startWorker({ pollMs: 5, shadows: 'only' });
    expect((await runtime.wait(shadowRunId, { pollMs: 5 })).status).toBe('succeeded');
  });

  it('refuses a shadows setting it does not know', async () => {
    const { runtime } = await setUp();
    const error = (() => {
      try {
        runtime.startWorker({ shadows: 'sometimes' as never });
        return undefined;
      } catch (caught) {
        return caught;
      }
    })();
    expect(KeelError.isInstance(error) && error.code).toBe('invalid_input');
  });
});

describe('ProductionLoad', () => {
  const model = {} as ModelAdapterV1;

  it("holds a shadow run's model call while a production run executes, and lets it go after", async () => {
    const load = new ProductionLoad(() => undefined, 10);
    const acquired: string[] = [];
    const inner = {
      acquire: () => {
        acquired.push('inner');
        return Promise.resolve();
      },
      rateLimited: () => undefined,
    };
    const leave = load.enter();
    const call = load
      .gate(inner)
      .acquire(model, 1, new AbortController().signal)
      .then(() => acquired.push('done'));
    await tick(20);
    expect(acquired).toEqual([]);
    leave();
    await call;
    expect(acquired).toEqual(['inner', 'done']);
    // Idle: at once.
    await load.gate(undefined).acquire(model, 1, new AbortController().signal);
  });

  it('ends the wait when the shadow run is aborted', async () => {
    const load = new ProductionLoad(() => undefined);
    load.enter();
    const stop = new AbortController();
    const waiting = load.idle(stop.signal);
    stop.abort(new Error('released'));
    await expect(waiting).rejects.toThrow('released');
  });

  it('lets whoever waits for a quiet moment go at once when production ends (a closing runtime)', async () => {
    const load = new ProductionLoad(() => undefined, 60_000);
    load.enter()();
    let released = false;
    const waiting = load.idle().then(() => (released = true));
    await tick(10);
    expect(released).toBe(false);
    load.end();
    await waiting;
    expect(released).toBe(true);
    // And from then on without waiting.
    expect(load.busy).toBe(false);
  });

  it('wakes the deferred workers once the last production run has been over for the quiet time, only if one was deferred', async () => {
    let woken = 0;
    const load = new ProductionLoad(() => (woken += 1), 20);
    load.enter()();
    await tick(40);
    expect(woken).toBe(0);
    const first = load.enter();
    const second = load.enter();
    expect(load.busy).toBe(true);
    first();
    await tick(40);
    expect(woken).toBe(0);
    second();
    second();
    // Just ended: still busy for the quiet time, then woken once.
    expect(load.busy).toBe(true);
    await tick(60);
    expect([woken, load.busy]).toEqual([1, false]);
  });
});
