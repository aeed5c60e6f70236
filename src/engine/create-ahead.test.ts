import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { holdOnce } from '../../test/support/hold-once.js';
import { eventTypes, gaplessEventTypes } from '../../test/support/journal.js';
import { wrapCreateRun } from '../../test/support/wrap-append.js';
import { createRuntime, type Runtime } from './index.js';

/*
 * A run `runtime.run` starts under an id Keel made commits its creation as it starts: the
 * first model call goes out while the disk syncs. Nothing else the run does comes before the
 * creation is durable, and a creation that fails fails the run with the store's error.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Fixture {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly modelSteps: number[];
  readonly lookups: string[];
  /** Lets the held creation reach the store (or fails it with `error`). */
  release(error?: Error): void;
  /** True once a creation is being held. */
  held(): boolean;
  /** Resolves once the creation is held and the first model call has gone out. */
  firstCallOut(): Promise<void>;
}

/** A store whose first `createRun` waits for `release`. */
async function fixture({
  leaseMs,
  answerAt = 1,
  latencyMs = 0,
}: {
  leaseMs?: number;
  /** The step that answers; those before look an order up. */
  answerAt?: number;
  /** How long each model call takes. */
  latencyMs?: number;
} = {}): Promise<Fixture> {
  const store = await openStore('sqlite::memory:');
  closers.push(() => store.close());
  const modelSteps: number[] = [];
  const lookups: string[] = [];
  const gate = holdOnce();
  const holding = wrapCreateRun(store, async (run, inner) => {
    await gate.pass();
    return inner(run);
  });
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up an order.',
    input: z.object({ id: z.string() }),
    effect: 'read',
    run: ({ id }) => {
      lookups.push(id);
      return Promise.resolve({ id, status: 'shipped' });
    },
  });
  const agent = defineAgent({
    name: 'orders',
    instructions: 'Look the order up, then answer.',
    model: simulator({
      script: ({ step }) => {
        modelSteps.push(step);
        return step < answerAt
          ? { toolCalls: [{ name: 'lookup', args: { id: 'A1' } }] }
          : { text: 'It shipped on Monday.' };
      },
      streamChunkChars: 4,
      latencyMs,
    }),
    tools: [lookup],
  });
  const runtime = createRuntime({
    store: holding,
    agents: [agent],
    ...(leaseMs === undefined ? {} : { leaseMs }),
  });
  closers.push(() => runtime.close());
  return {
    store,
    runtime,
    modelSteps,
    lookups,
    release: gate.release,
    held: gate.held,
    firstCallOut: () =>
      vi.waitFor(() => {
        expect(gate.held()).toBe(true);
        expect(modelSteps).toEqual([0]);
      }),
  };
}

describe('a run whose creation commits as it starts', () => {
  it('sends its first model call meanwhile, and runs its tool only once the creation is durable', async () => {
    const { store, runtime, modelSteps, lookups, release, firstCallOut } = await fixture();
    let settled = false;
    const running = runtime.run('orders', 'Where is order A1?');
    void running.then(() => {
      settled = true;
    });
    try {
      await firstCallOut();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect({ lookups, modelSteps, settled }).toEqual({
        lookups: [],
        modelSteps: [0],
        settled: false,
      });
      expect(await store.listRuns()).toEqual([]);
    } finally {
      release();
    }
    const result = await running;
    expect({ status: result.status, output: result.output, lookups }).toEqual({
      status: 'succeeded',
      output: 'It shipped on Monday.',
      lookups: ['A1'],
    });
    expect(await gaplessEventTypes(store, result.id)).toEqual([
      'run_started',
      'run_claimed',
      'model_called',
      'tool_requested',
      'tool_started',
      'tool_finished',
      'model_called',
      'run_finished',
    ]);
  });

  it("fails with the store's error when the creation fails, cutting off the model call under way", async () => {
    // A model call outlasting the test's patience: the failure must not wait for it.
    const { store, runtime, modelSteps, lookups, release, firstCallOut } = await fixture({
      latencyMs: 20_000,
    });
    const running = runtime.run('orders', 'Where is order A1?');
    running.catch(() => undefined);
    await firstCallOut();
    const failedAt = Date.now();
    release(new KeelError('store_unavailable', 'the disk is gone'));
    await expect(running).rejects.toMatchObject({
      code: 'store_unavailable',
      message: 'the disk is gone',
    });
    expect(Date.now() - failedAt).toBeLessThan(10_000);
    expect({ modelSteps, lookups }).toEqual({ modelSteps: [0], lookups: [] });
    expect(await store.listRuns()).toEqual([]);
  });

  it('is released by a runtime that closes meanwhile, not run to its end', async () => {
    const { store, runtime, release, firstCallOut } = await fixture({
      latencyMs: 20_000,
    });
    const running = runtime.run('orders', 'Where is order A1?');
    running.catch(() => undefined);
    await firstCallOut();
    const closedAt = Date.now();
    const closing = runtime.close();
    release();
    await closing;
    expect(Date.now() - closedAt).toBeLessThan(10_000);
    await expect(running).rejects.toMatchObject({ code: 'lease_lost' });
    const [record] = await store.listRuns();
    // Handed back: claimable by any worker at once, its release journaled.
    expect({
      status: record?.status,
      leaseOwner: record?.leaseOwner,
      events: await eventTypes(store, record?.id ?? ''),
    }).toEqual({
      status: 'running',
      leaseOwner: null,
      events: ['run_started', 'run_claimed', 'run_released'],
    });
  });

  it('is cancelled by a cancel that comes before its row exists, which reports the run', async () => {
    const { store, runtime, release, firstCallOut } = await fixture({
      latencyMs: 20_000,
    });
    const stream = runtime.stream('orders', 'Where is order A1?');
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of stream) seen.push(event.type);
    })();
    await firstCallOut();
    const cancelling = runtime.cancel(stream.runId);
    release();
    const record = await cancelling;
    expect(record.id).toBe(stream.runId);
    await reading;
    expect({
      status: (await store.getRun(stream.runId))?.status,
      events: await eventTypes(store, stream.runId),
      last: seen.at(-1),
    }).toEqual({
      status: 'cancelled',
      events: ['run_started', 'run_claimed', 'cancel_requested', 'run_finished'],
      last: 'run_finished',
    });
  });

  it('is not taken for lost by a lease heartbeat that comes before its row exists', async () => {
    // Renewals every 50 ms: several fall while the creation is held.
    const { runtime, modelSteps, release, firstCallOut } = await fixture({ leaseMs: 150 });
    const running = runtime.run('orders', 'Where is order A1?');
    await firstCallOut();
    await new Promise((resolve) => setTimeout(resolve, 130));
    release();
    const result = await running;
    expect({ status: result.status, modelSteps }).toEqual({
      status: 'succeeded',
      modelSteps: [0, 1],
    });
  });

  it('streams: the first call goes out meanwhile, its text reaches the stream once the creation is durable', async () => {
    const { runtime, release, firstCallOut } = await fixture({ answerAt: 0 });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of runtime.stream('orders', 'Where is order A1?'))
        seen.push(event.type === 'text_delta' ? `delta:${event.text}` : event.type);
    })();
    try {
      await firstCallOut();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen.filter((type) => type.startsWith('delta:'))).toEqual([]);
    } finally {
      release();
    }
    await reading;
    expect(seen.filter((type) => type.startsWith('delta:')).join('')).toBe(
      'delta:It sdelta:hippdelta:ed odelta:n Modelta:ndaydelta:.',
    );
    expect(seen.at(-1)).toBe('run_finished');
  });

  it('waits for its creation before any model call when the caller chose its id', async () => {
    const { runtime, modelSteps, release, held } = await fixture();
    const running = runtime.run('orders', 'Where is order A1?', { runId: 'mine-1' });
    try {
      await vi.waitFor(() => {
        expect(held()).toBe(true);
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(modelSteps).toEqual([]);
    } finally {
      release();
    }
    expect((await running).status).toBe('succeeded');
    expect(modelSteps).toEqual([0, 1]);
  });
});
