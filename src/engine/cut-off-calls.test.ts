import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { runMetrics } from '../observe/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime } from './index.js';

/*
 * A run that ends by a cancel or a timeout while a call is under way cannot know whether the
 * call took effect: its reason names the call and key, as the watchdog's `in_doubt` does.
 */

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** An agent whose one transfer ignores its abort signal and ends only when released. */
function transferAgent() {
  let release = (): void => undefined;
  let markStarted = (): void => undefined;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const transfer = defineTool({
    name: 'transfer',
    description: 'Move money',
    input: z.object({ amount: z.number() }),
    effect: 'irreversible',
    async run() {
      markStarted();
      await held;
      return { done: true };
    },
  });
  const agent = defineAgent({
    name: 'payer',
    instructions: 'Pay.',
    tools: [transfer],
    model: simulator({
      script: ({ lastToolResults }) =>
        lastToolResults.length === 0
          ? { toolCalls: [{ name: 'transfer', args: { amount: 5 } }] }
          : { text: 'paid' },
    }),
  });
  return { agent, started, release };
}

describe('calls cut off by the end of a run', () => {
  it('a cancel during a call names the call as in doubt', async () => {
    const { agent, started, release } = transferAgent();
    store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    const controller = new AbortController();
    void started.then(() => {
      controller.abort();
    });
    try {
      const result = await runtime.run('payer', 'Pay 5', { signal: controller.signal });
      expect(result.status).toBe('cancelled');
      expect(result.reason).toMatchObject({
        type: 'cancelled',
        by: 'user',
        inDoubt: [{ toolName: 'transfer', step: 0, idempotencyKey: `${result.id}:0:0` }],
      });
      // What alerts read: the key of the call whose effect is unknown.
      const metrics = runMetrics(result.id, await runtime.store.readEvents(result.id));
      expect(metrics?.inDoubtKeys).toEqual([`${result.id}:0:0`]);
    } finally {
      release();
      await runtime.close();
    }
  });

  it('a timeout during a call names the call as in doubt', async () => {
    const { agent, release } = transferAgent();
    store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const result = await runtime.run('payer', 'Pay 5', { limits: { timeoutMs: 100 } });
      expect(result.status).toBe('stopped');
      expect(result.reason).toMatchObject({
        type: 'limit',
        limit: 'timeout',
        inDoubt: [{ toolName: 'transfer', idempotencyKey: `${result.id}:0:0` }],
      });
    } finally {
      release();
      await runtime.close();
    }
  });

  it('a run cancelled after its calls finished names none', async () => {
    const { agent, release } = transferAgent();
    release();
    store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const record = await runtime.submit('payer', 'Pay 5');
      const cancelled = await runtime.cancel(record.id);
      expect(cancelled.status).toBe('cancelled');
      const { state } = await runtime.inspect(record.id);
      expect(state.finished?.reason).toEqual({ type: 'cancelled', by: 'user' });
    } finally {
      await runtime.close();
    }
  });
});
