import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError, systemClock } from '../core/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool, type ToolEffect } from '../tools/index.js';
import { holdOnce } from '../../test/support/hold-once.js';
import { eventTypes, gaplessEventTypes } from '../../test/support/journal.js';
import { wrapAppend } from '../../test/support/wrap-append.js';
import { createRuntime, type Runtime } from './index.js';
import { RunJournal } from './run-journal.js';

/*
 * A step whose calls only read commits its results ahead: the commit starts and the next model
 * call goes out without waiting for it (a crash before it is durable repeats the step, as for
 * any read step). Nothing the run does after that call — its next write, its answer, the text
 * its followers see — comes before the commit is durable, and a commit that fails ends the run.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Fixture {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly modelSteps: number[];
  /** Resolves the held write (or fails it with `error`). */
  release(error?: Error): void;
  /** True once the write holding a result reached the store. */
  held(): boolean;
}

/** A store whose first write carrying a `tool_finished` waits for `release`. */
async function fixture({
  effect = 'read',
  steps = 2,
}: {
  effect?: ToolEffect;
  /** Model calls: a lookup at each but the last, which answers. */
  steps?: number;
} = {}): Promise<Fixture> {
  const store = await openStore('sqlite::memory:');
  closers.push(() => store.close());
  const modelSteps: number[] = [];
  const gate = holdOnce();
  const holding = wrapAppend(store, async (write, inner) => {
    const holdsResult = write.events.some((entry) => entry.event.type === 'tool_finished');
    if (holdsResult) await gate.pass();
    return inner(write);
  });
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up an order.',
    input: z.object({ id: z.string() }),
    effect,
    run: ({ id }) => Promise.resolve({ id, status: 'shipped' }),
  });
  const agent = defineAgent({
    name: 'orders',
    instructions: 'Look the order up, then answer.',
    model: simulator({
      script: ({ step }) => {
        modelSteps.push(step);
        return step < steps - 1
          ? { toolCalls: [{ name: 'lookup', args: { id: `A${step + 1}` } }] }
          : { text: 'It shipped on Monday.' };
      },
      streamChunkChars: 4,
    }),
    tools: [lookup],
  });
  const runtime = createRuntime({ store: holding, agents: [agent] });
  closers.push(() => runtime.close());
  return {
    store,
    runtime,
    modelSteps,
    release: gate.release,
    held: gate.held,
  };
}

describe('the results of a step of reads', () => {
  it('commit while the next model call goes out; the answer waits for the commit', async () => {
    const { store, runtime, modelSteps, release, held } = await fixture();
    let settled = false;
    const running = runtime.run('orders', 'Where is order A1?', { runId: 'ahead-1' });
    void running.then(() => {
      settled = true;
    });
    await vi.waitFor(() => {
      expect(held()).toBe(true);
      expect(modelSteps).toEqual([0, 1]);
    });
    // The second call went out and answered; the run cannot end before its results are durable.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    expect(await eventTypes(store, 'ahead-1')).toEqual(['run_started', 'run_claimed']);
    release();
    const result = await running;
    expect({ status: result.status, output: result.output }).toEqual({
      status: 'succeeded',
      output: 'It shipped on Monday.',
    });
    expect(await gaplessEventTypes(store, 'ahead-1')).toEqual([
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

  it('hold the run before the next step runs its calls: one model call at most goes ahead', async () => {
    const { store, runtime, modelSteps, release, held } = await fixture({ steps: 3 });
    const running = runtime.run('orders', 'Where are orders A0 and A1?', { runId: 'ahead-4' });
    try {
      await vi.waitFor(() => {
        expect(held()).toBe(true);
        expect(modelSteps).toEqual([0, 1]);
      });
      // The second reply asked for another read; it waits for the first step's results.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(modelSteps).toEqual([0, 1]);
    } finally {
      // A run left executing would keep the next tests' runs from going ahead.
      release();
    }
    expect((await running).status).toBe('succeeded');
    expect(modelSteps).toEqual([0, 1, 2]);
    await gaplessEventTypes(store, 'ahead-4');
  });

  it('end the run with the fault of a commit that failed, writing nothing after it', async () => {
    const { store, runtime, release, held } = await fixture();
    const running = runtime.run('orders', 'Where is order A1?', { runId: 'ahead-2' });
    const outcome = running.then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    await vi.waitFor(() => {
      expect(held()).toBe(true);
    });
    release(new KeelError('store_unavailable', 'the disk is gone'));
    const { result, error } = await outcome;
    const said = result
      ? `${result.status}: ${JSON.stringify(result.reason)}`
      : KeelError.isInstance(error)
        ? `${error.code}: ${error.message}`
        : String(error);
    expect(said).toContain('the disk is gone');
    // The model's second reply and the answer are not journaled over a missing result.
    const written = await eventTypes(store, 'ahead-2');
    expect(written).not.toContain('tool_finished');
    expect(written.filter((type) => type === 'model_called')).toEqual([]);
  });

  it('reach followers before the text of the reply that answers them', async () => {
    const { runtime, modelSteps, release, held } = await fixture();
    const seen: string[] = [];
    const stream = runtime.stream('orders', 'Where is order A1?', { runId: 'ahead-3' });
    const reading = (async () => {
      for await (const event of stream) {
        seen.push(event.type === 'text_delta' ? `text_delta:${event.step}` : event.type);
      }
    })();
    await vi.waitFor(() => {
      expect(held()).toBe(true);
      expect(modelSteps).toEqual([0, 1]);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).not.toContain('text_delta:1');
    release();
    await reading;
    const firstText = seen.indexOf('text_delta:1');
    expect(firstText).toBeGreaterThan(seen.indexOf('tool_result'));
    expect(seen.indexOf('tool_result')).toBeGreaterThan(-1);
  });
});

describe('a journal with a commit ahead', () => {
  it('hands its writes to the store in sequence order, a write made meanwhile after it', async () => {
    const store = await openStore('sqlite::memory:');
    closers.push(() => store.close());
    await store.createRun({ id: 'order-1', agent: 'a', task: 't', createdAt: 0, events: [] });
    const received: number[][] = [];
    let releaseFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const recording = wrapAppend(store, async (write, inner) => {
      received.push(write.events.map((entry) => entry.seq));
      if (received.length === 1) await first;
      return inner(write);
    });
    const journal = await RunJournal.open({
      store: recording,
      clock: systemClock,
      runId: 'order-1',
      guard: { status: 'queued' },
    });
    const event = { type: 'cancel_requested', by: 'user' } as const;
    journal.appendAhead([event]);
    // A write of the same step (a retried call's failure, say) while the first is pending...
    const later = journal.append([event]);
    // ...and another result committed ahead after it.
    journal.appendAhead([event]);
    releaseFirst();
    await later;
    await journal.durable();
    expect(received).toEqual([[1], [2], [3]]);
    expect((await store.readEvents('order-1')).map((entry) => entry.seq)).toEqual([1, 2, 3]);
  });
});

describe('the results of a step of reads beside another run', () => {
  it('commit before the next model call goes out', async () => {
    const { runtime, modelSteps, release, held } = await fixture();
    // A second run of the same process, busy in its tool until the end of the test.
    let finishOther: () => void = () => undefined;
    const otherBusy = new Promise<void>((resolve) => {
      finishOther = resolve;
    });
    let otherStarted = false;
    const other = defineAgent({
      name: 'other',
      instructions: 'Wait.',
      model: simulator({
        script: ({ step }) =>
          step === 0 ? { toolCalls: [{ name: 'wait', args: {} }] } : { text: 'done' },
      }),
      tools: [
        defineTool({
          name: 'wait',
          description: 'Wait.',
          input: z.object({}),
          effect: 'read',
          async run() {
            otherStarted = true;
            await otherBusy;
            return {};
          },
        }),
      ],
    });
    const sideStore = await openStore('sqlite::memory:');
    closers.push(() => sideStore.close());
    const side = createRuntime({ store: sideStore, agents: [other] });
    closers.push(() => side.close());
    const otherRun = side.run('other', 'Wait.');
    await vi.waitFor(() => {
      expect(otherStarted).toBe(true);
    });
    await expectNextCallAfterCommit(
      runtime.run('orders', 'Where is order A1?', { runId: 'beside-1' }),
      { modelSteps, release, held },
    );
    finishOther();
    expect((await otherRun).status).toBe('succeeded');
  });
});

describe('the results of a step with a write', () => {
  it('commit before the next model call goes out', async () => {
    const held = await fixture({ effect: 'write' });
    await expectNextCallAfterCommit(
      held.runtime.run('orders', 'Where is order A1?', { runId: 'write-1' }),
      held,
    );
  });
});

/** While the result's write is held, no second model call goes out; once released, it does. */
async function expectNextCallAfterCommit(
  running: Promise<{ status: string }>,
  { modelSteps, release, held }: Pick<Fixture, 'modelSteps' | 'release' | 'held'>,
): Promise<void> {
  await vi.waitFor(() => {
    expect(held()).toBe(true);
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(modelSteps).toEqual([0]);
  release();
  expect((await running).status).toBe('succeeded');
  expect(modelSteps).toEqual([0, 1]);
}
