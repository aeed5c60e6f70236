import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { createRuntime, type Runtime } from './runtime.js';

// A misspelt option used to be carried along and do nothing: `leasMs` left the lease at its
// default, `limit` ran without the tighter limits, `polMs` polled at the default rate.

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const agent = defineAgent({
  name: 'answer',
  instructions: 'Answer.',
  model: simulator({ script: () => ({ text: 'done' }) }),
});

async function opened(): Promise<{ store: Store; runtime: Runtime }> {
  const store = await openStore('sqlite::memory:');
  closers.push(() => store.close());
  const runtime = createRuntime({ store, agents: [agent] });
  closers.push(() => runtime.close());
  return { store, runtime };
}

function refusal(attempt: () => unknown): { code: string; message: string } {
  try {
    attempt();
  } catch (error) {
    if (KeelError.isInstance(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a KeelError');
}

async function refusalOf(attempt: Promise<unknown>): Promise<{ code: string; message: string }> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!KeelError.isInstance(error)) throw new Error(`expected a KeelError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

describe('options that are not options', () => {
  it('createRuntime refuses one, suggesting the option meant', async () => {
    const store = await openStore('sqlite::memory:');
    closers.push(() => store.close());
    expect(
      refusal(() => createRuntime({ store, agents: [agent], leasMs: 5_000 } as never)),
    ).toEqual({
      code: 'invalid_config',
      message: 'createRuntime: "leasMs" is not an option (did you mean "leaseMs"?)',
    });
    expect(
      refusal(() => createRuntime({ store, agents: [agent], approvals: { sweepMS: 1 } } as never))
        .message,
    ).toBe('createRuntime: "approvals.sweepMS" is not an option (did you mean "sweepMs"?)');
  });

  it.each([
    [
      { attempts: 1 },
      '"modelRetry.attempts" is not an option; the options are maxAttempts, initialDelayMs, maxDelayMs',
    ],
    [
      { maxAttempts: 1, bogus: 2 },
      '"modelRetry.bogus" is not an option; the options are maxAttempts, initialDelayMs, maxDelayMs',
    ],
    [{ maxAttempts: 0 }, '"modelRetry.maxAttempts" must be a whole number of attempts, 1 or more'],
    [
      { maxDelayMs: -1 },
      '"modelRetry.maxDelayMs" must be a number of milliseconds from 0 to 2147483647',
    ],
    [
      { initialDelayMs: 2 ** 31 },
      '"modelRetry.initialDelayMs" must be a number of milliseconds from 0 to 2147483647',
    ],
    [5, '"modelRetry" must be an object of maxAttempts, initialDelayMs and maxDelayMs'],
  ])('createRuntime refuses a modelRetry of %j', async (modelRetry, message) => {
    const store = await openStore('sqlite::memory:');
    closers.push(() => store.close());
    const refused = refusal(() =>
      createRuntime({ store, agents: [agent], modelRetry: modelRetry as never }),
    );
    expect(refused).toEqual({ code: 'invalid_config', message: `createRuntime: ${message}` });
  });

  it('createRuntime takes a modelRetry of its own fields', async () => {
    const store = await openStore('sqlite::memory:');
    closers.push(() => store.close());
    const runtime = createRuntime({
      store,
      agents: [agent],
      modelRetry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 10 },
    });
    closers.push(() => runtime.close());
    expect((await runtime.run('answer', 'hi')).status).toBe('succeeded');
  });

  it('a run refuses one before it is created; a stream and a fork too', async () => {
    const { store, runtime } = await opened();
    expect(
      await refusalOf(runtime.run('answer', 'hi', { limit: { maxIterations: 1 } } as never)),
    ).toEqual({
      code: 'invalid_input',
      message: 'run: "limit" is not an option (did you mean "limits"?)',
    });
    expect(
      await refusalOf(runtime.submit('answer', 'hi', { modle: 'simulator' } as never)),
    ).toMatchObject({ code: 'invalid_input' });
    expect(refusal(() => runtime.stream('answer', 'hi', { pollMS: 5 } as never))).toEqual({
      code: 'invalid_input',
      message: 'stream: "pollMS" is not an option (did you mean "pollMs"?)',
    });
    expect(await store.listRuns({ limit: 5 })).toEqual([]);
    const done = await runtime.run('answer', 'hi');
    expect(await refusalOf(runtime.fork(done.id, { fromstep: 0 } as never))).toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('"fromstep"'),
    });
  });

  it("a stream's own options still reach the stream, and the run's the run", async () => {
    const { runtime } = await opened();
    const stream = runtime.stream('answer', 'hi', { pollMs: 50, abort: 'subscription' });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe('run_finished');
  });

  it('startWorker refuses one', async () => {
    const { runtime } = await opened();
    expect(refusal(() => runtime.startWorker({ polMs: 5 } as never))).toEqual({
      code: 'invalid_config',
      message: 'startWorker: "polMs" is not an option (did you mean "pollMs"?)',
    });
  });
});
