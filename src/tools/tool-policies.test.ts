import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore, type Store } from '../store/index.js';
import {
  ToolError,
  cacheKey,
  createToolPolicies,
  defineTool,
  executeTool,
  retryDelay,
  type ToolDefinition,
  type ToolFailure,
  type ToolOutcome,
  type ToolPolicies,
} from './index.js';
import { storeLocations } from '../store/__tests__/store-locations.js';

/*
 * The policies around a tool call, each with a case it allows and a case it denies, on every
 * store. Two `ToolPolicies` on one database stand for two worker processes.
 */

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS: readonly { name: string; url: () => string }[] = [
  { name: 'sqlite', url: () => locations.sqliteFile() },
  { name: 'postgres', url: () => locations.postgres('keel_tp') },
];

function tool(definition: Partial<ToolDefinition> & Pick<ToolDefinition, 'run'>) {
  return defineTool({
    name: 'lookup',
    description: 'Look something up',
    input: z.object({ id: z.string() }),
    effect: 'read',
    retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 5 },
    ...definition,
  });
}

type TestTool = ReturnType<typeof tool>;

function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

let calls = 0;
function call(
  policies: ToolPolicies,
  subject: TestTool,
  input: unknown = { id: 'a' },
): Promise<ToolOutcome> {
  calls += 1;
  return executeTool({
    tool: subject,
    input,
    context: { idempotencyKey: `run:0:${calls}`, runId: 'run', callId: `call_${calls}` },
    signal: new AbortController().signal,
    hooks: { beforeAttempt: () => Promise.resolve(), afterFailedAttempt: () => Promise.resolve() },
    policies,
  });
}

/** Resolves once `condition` holds (checked every 5 ms); fails the test after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 10_000) throw new Error('condition not reached within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function failureOf(outcome: ToolOutcome): ToolFailure | undefined {
  return outcome.ok ? undefined : outcome.failure;
}

for (const backend of BACKENDS) {
  describe(`tool policies on ${backend.name}`, () => {
    let store: Store;
    let otherStore: Store;
    let now: number;
    const clock = { now: () => now };

    beforeEach(async () => {
      now = 1_700_000_000_000;
      const url = backend.url();
      store = await openStore(url);
      otherStore = await openStore(url);
    });
    afterEach(async () => {
      await otherStore.close();
      await store.close();
    });

    function policies(on: Store = store): ToolPolicies {
      return createToolPolicies({ store: on, clock, breakerSyncMs: 0 });
    }

    describe('result cache', () => {
      it('executes a miss, answers a hit from the store until its TTL ends', async () => {
        const seen: unknown[] = [];
        const cached = tool({
          cache: { ttlMs: 1_000 },
          run: (input) => {
            seen.push(input);
            return Promise.resolve({ value: seen.length });
          },
        });
        const first = await call(policies(), cached, { id: 'a' });
        // Another worker, arguments in another key order: the same key.
        const hit = await call(policies(otherStore), cached, { id: 'a' });
        now += 999;
        const stillHit = await call(policies(), cached, { id: 'a' });
        now += 1;
        const expired = await call(policies(), cached, { id: 'a' });
        const otherArgs = await call(policies(), cached, { id: 'b' });
        expect([first, hit, stillHit, expired, otherArgs]).toEqual([
          { ok: true, value: { value: 1 }, attempts: 1 },
          { ok: true, value: { value: 1 }, attempts: 0, cache: 'hit' },
          { ok: true, value: { value: 1 }, attempts: 0, cache: 'hit' },
          { ok: true, value: { value: 2 }, attempts: 1 },
          { ok: true, value: { value: 3 }, attempts: 1 },
        ]);
      });

      it('keys by tool name, version and canonical arguments', () => {
        const v1 = { name: 'lookup', version: '1' };
        expect(cacheKey(v1, { a: 1, b: [1, { c: 2, d: 3 }] })).toBe(
          cacheKey(v1, { b: [1, { d: 3, c: 2 }], a: 1 }),
        );
        expect(cacheKey(v1, { a: 1 })).not.toBe(cacheKey({ ...v1, version: '2' }, { a: 1 }));
        expect(cacheKey(v1, { a: 1 })).not.toBe(cacheKey({ ...v1, name: 'other' }, { a: 1 }));
        expect(cacheKey(v1, { a: 1 })).not.toBe(cacheKey(v1, { a: 2 }));
      });

      it('coalesces 10 concurrent identical calls into 1 execution', async () => {
        const gate = deferred();
        let executions = 0;
        const slow = tool({
          cache: { ttlMs: 60_000 },
          run: async () => {
            executions += 1;
            await gate.promise;
            return 'result';
          },
        });
        const shared = policies();
        const outcomes = Array.from({ length: 10 }, () => call(shared, slow, { id: 'same' }));
        await until(() => executions === 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
        gate.resolve();
        const settled = await Promise.all(outcomes);
        expect(executions).toBe(1);
        expect(
          settled.map((outcome) => (outcome.ok ? (outcome.cache ?? 'executed') : 'failed')),
        ).toEqual(['executed', ...Array<string>(9).fill('coalesced')]);
        expect(settled.every((outcome) => outcome.ok && outcome.value === 'result')).toBe(true);
        // Every call is audited: one execution, nine answers shared with it.
        const audited = (await store.audit.read()).map(
          (row) => (JSON.parse(row.payload) as { outcome: { cache?: string } }).outcome.cache,
        );
        expect(audited.sort()).toEqual([...Array<string>(9).fill('coalesced'), undefined]);
      });

      it('does not share an execution that was cancelled or failed in its own journal', async () => {
        const gate = deferred();
        let executions = 0;
        const slow = tool({
          cache: { ttlMs: 60_000 },
          run: async (_input, { signal }) => {
            executions += 1;
            if (executions === 1) await gate.promise;
            signal.throwIfAborted();
            return `result ${executions}`;
          },
        });
        const shared = policies();
        const leader = new AbortController();
        const base = {
          tool: slow,
          input: { id: 'same' },
          context: { idempotencyKey: 'k', runId: 'run', callId: 'c' },
          policies: shared,
        };
        const noHooks = {
          beforeAttempt: () => Promise.resolve(),
          afterFailedAttempt: () => Promise.resolve(),
        };
        const cancelled = executeTool({ ...base, signal: leader.signal, hooks: noHooks });
        const follower = executeTool({
          ...base,
          signal: new AbortController().signal,
          hooks: noHooks,
        });
        await until(() => executions === 1);
        leader.abort(new Error('run cancelled'));
        gate.resolve();
        expect(await cancelled).toMatchObject({ ok: false, failure: { type: 'unavailable' } });
        expect(await follower).toEqual({ ok: true, value: 'result 2', attempts: 1 });

        // A leader whose journal write fails rejects; the call that waited on it runs itself.
        const journalDown = executeTool({
          ...base,
          input: { id: 'other' },
          signal: new AbortController().signal,
          hooks: { ...noHooks, beforeAttempt: () => Promise.reject(new Error('store down')) },
        });
        const waiting = executeTool({
          ...base,
          input: { id: 'other' },
          signal: new AbortController().signal,
          hooks: noHooks,
        });
        await expect(journalDown).rejects.toThrow('store down');
        expect(await waiting).toEqual({ ok: true, value: 'result 3', attempts: 1 });
      });

      it('never caches an error, a fallback or a partial result', async () => {
        let executions = 0;
        const failing = tool({
          cache: { ttlMs: 60_000 },
          breaker: false,
          run: () => {
            executions += 1;
            return Promise.reject(new ToolError('unavailable', 'down'));
          },
        });
        const degraded = tool({
          name: 'degraded',
          cache: { ttlMs: 60_000 },
          breaker: false,
          escape: { type: 'fallback', value: () => 'stale' },
          run: () => {
            executions += 1;
            return Promise.reject(new ToolError('timeout', 'slow'));
          },
        });
        const partial = tool({
          name: 'partial',
          cache: { ttlMs: 60_000 },
          run: (_input, context) => {
            executions += 1;
            context.markPartial();
            return Promise.resolve('first page only');
          },
        });
        for (const subject of [failing, failing, degraded, degraded, partial, partial])
          await call(policies(), subject);
        expect(executions).toBe(6);
        expect(await call(policies(), degraded)).toMatchObject({
          ok: true,
          degraded: { type: 'timeout' },
        });
      });

      it('is refused at definition time on tools that are not reads', () => {
        expect(() =>
          tool({ effect: 'write', cache: { ttlMs: 1 }, run: () => Promise.resolve(1) }),
        ).toThrow(/"cache" is only allowed on read tools/);
        expect(() => tool({ cache: { ttlMs: 0 }, run: () => Promise.resolve(1) })).toThrow(
          /"cache.ttlMs" must be a positive number/,
        );
      });
    });

    describe('circuit breaker', () => {
      const flaky = (state: { failing: boolean; executions: number }) =>
        tool({
          breaker: { failureThreshold: 3, cooldownMs: 5_000 },
          run: () => {
            state.executions += 1;
            return state.failing
              ? Promise.reject(new ToolError('unavailable', 'down'))
              : Promise.resolve('fine');
          },
        });

      it('lets calls through while closed and below its threshold', async () => {
        const state = { failing: true, executions: 0 };
        const subject = flaky(state);
        const workerA = policies();
        await call(workerA, subject);
        await call(workerA, subject);
        state.failing = false;
        expect(await call(workerA, subject)).toMatchObject({ ok: true });
        // The success reset the count: two more failures do not open it.
        state.failing = true;
        await call(workerA, subject);
        await call(workerA, subject);
        expect(await store.tools.getBreaker('lookup')).toMatchObject({
          state: 'closed',
          failures: 2,
        });
        expect(state.executions).toBe(5);
      });

      it('opens after N failures, fails fast in every worker, half-opens after its cooldown', async () => {
        const state = { failing: true, executions: 0 };
        const subject = flaky(state);
        const workerA = policies();
        const workerB = policies(otherStore);
        for (let index = 0; index < 3; index++) await call(workerA, subject);
        expect(state.executions).toBe(3);

        state.failing = false;
        const fast = await call(workerB, subject);
        expect(failureOf(fast)).toEqual({
          type: 'unavailable',
          message: 'lookup: circuit breaker open after repeated failures; failing fast',
          retryAfterMs: 5_000,
        });
        expect(failureOf(await call(workerA, subject))?.type).toBe('unavailable');
        expect(state.executions).toBe(3);

        now += 5_000;
        // One probe goes through (half-open) and closes the breaker for everyone.
        expect(await call(workerB, subject)).toMatchObject({ ok: true });
        expect(await call(workerA, subject)).toMatchObject({ ok: true });
        expect(state.executions).toBe(5);
        expect(await store.tools.getBreaker('lookup')).toMatchObject({
          state: 'closed',
          failures: 0,
        });
      });

      it('re-opens when the half-open probe fails, and admits a single probe at a time', async () => {
        const state = { failing: true, executions: 0 };
        const subject = flaky(state);
        const workerA = policies();
        for (let index = 0; index < 3; index++) await call(workerA, subject);
        now += 5_000;
        expect(failureOf(await call(workerA, subject))?.message).toBe('down');
        expect(await store.tools.getBreaker('lookup')).toMatchObject({
          state: 'open',
          until: now + 5_000,
        });

        now += 5_000;
        const gate = deferred();
        let probing = false;
        const hanging = tool({
          breaker: { failureThreshold: 3, cooldownMs: 5_000 },
          run: async () => {
            probing = true;
            await gate.promise;
            return 'late';
          },
        });
        const probe = call(workerA, hanging);
        await until(() => probing);
        const second = await call(policies(otherStore), hanging);
        expect(failureOf(second)?.message).toMatch(/half-open/);
        gate.resolve();
        expect(await probe).toMatchObject({ ok: true, value: 'late' });
      });

      it('answers with the fallback while open, without calling the service', async () => {
        let executions = 0;
        const subject = tool({
          breaker: { failureThreshold: 2, cooldownMs: 5_000 },
          escape: { type: 'fallback', value: () => 'cached estimate' },
          run: () => {
            executions += 1;
            return Promise.reject(new ToolError('unavailable', 'down'));
          },
        });
        await call(policies(), subject);
        await call(policies(), subject);
        const outcome = await call(policies(otherStore), subject);
        expect({ executions, outcome }).toEqual({
          executions: 2,
          outcome: {
            ok: true,
            value: 'cached estimate',
            attempts: 1,
            degraded: expect.objectContaining({
              type: 'unavailable',
              retryAfterMs: 5_000,
            }) as unknown,
          },
        });
      });

      it('does not count failures that prove the service answered', async () => {
        const notFound = tool({
          breaker: { failureThreshold: 1, cooldownMs: 5_000 },
          run: () => Promise.reject(new ToolError('not_found', 'no such id')),
        });
        for (let index = 0; index < 3; index++) {
          expect(failureOf(await call(policies(), notFound))?.type).toBe('not_found');
        }
        expect(await store.tools.getBreaker('lookup')).toBeUndefined();
      });
    });

    describe('bulkhead', () => {
      it('runs calls up to maxConcurrent at once and queues up to maxQueued', async () => {
        const gate = deferred();
        let running = 0;
        let peak = 0;
        const limited = tool({
          bulkhead: { maxConcurrent: 2, maxQueued: 1 },
          breaker: false,
          run: async () => {
            running += 1;
            peak = Math.max(peak, running);
            await gate.promise;
            running -= 1;
            return 'ok';
          },
        });
        const shared = policies();
        const outcomes = [1, 2, 3].map((id) => call(shared, limited, { id: String(id) }));
        await until(() => running === 2);
        await new Promise((resolve) => setTimeout(resolve, 20));
        gate.resolve();
        expect((await Promise.all(outcomes)).map((outcome) => outcome.ok)).toEqual([
          true,
          true,
          true,
        ]);
        expect(peak).toBe(2);
      });

      it('refuses a call beyond its slots as unavailable without running it', async () => {
        const gate = deferred();
        let executions = 0;
        const limited = tool({
          bulkhead: { maxConcurrent: 1, maxQueued: 0 },
          breaker: { failureThreshold: 1, cooldownMs: 5_000 },
          run: async () => {
            executions += 1;
            await gate.promise;
            return 'ok';
          },
        });
        const shared = policies();
        const first = call(shared, limited, { id: '1' });
        await until(() => executions === 1);
        const refused = await call(shared, limited, { id: '2' });
        gate.resolve();
        expect(await first).toMatchObject({ ok: true });
        expect(failureOf(refused)).toEqual({
          type: 'unavailable',
          message: 'lookup has too many calls in this process (1 running, 0 waiting)',
        });
        expect(executions).toBe(1);
        // A refusal is not the service's fault: even a threshold of 1 did not open the breaker.
        expect(await store.tools.getBreaker('lookup')).toBeUndefined();
      });
    });

    describe('timeout', () => {
      it('lets a call finish inside its timeout', async () => {
        const quick = tool({ timeoutMs: 1_000, run: () => Promise.resolve('quick') });
        expect(await call(policies(), quick)).toMatchObject({ ok: true, value: 'quick' });
      });

      it('fails a call past its timeout with type timeout and aborts its signal', async () => {
        let aborted = false;
        const slow = tool({
          timeoutMs: 20,
          breaker: false,
          run: (_input, { signal }) =>
            new Promise((_, reject) => {
              signal.addEventListener('abort', () => {
                aborted = true;
                reject(new Error('aborted'));
              });
            }),
        });
        expect(failureOf(await call(policies(), slow))).toEqual({
          type: 'timeout',
          message: 'lookup timed out after 20 ms',
        });
        expect(aborted).toBe(true);
      });
    });

    describe('store faults', () => {
      it('propagate as faults, never as a typed failure of the tool that succeeded', async () => {
        let executions = 0;
        const subject = tool({
          breaker: false,
          run: () => {
            executions += 1;
            return Promise.resolve('done');
          },
        });
        const closing = await openStore(backend.url());
        const onClosed = policies(closing);
        await closing.close();
        await expect(call(onClosed, subject)).rejects.toMatchObject({ code: 'store_unavailable' });
        expect(executions).toBe(1);
      });
    });

    describe('audit', () => {
      it('records each attempt with its outcome, and a cache hit', async () => {
        const cached = tool({ cache: { ttlMs: 60_000 }, run: () => Promise.resolve({ n: 1 }) });
        await call(policies(), cached);
        await call(policies(), cached);
        const rows = await store.audit.read();
        expect(rows.map((row) => JSON.parse(row.payload) as { outcome: unknown })).toEqual([
          expect.objectContaining({ attempt: 1, outcome: { ok: true, result: { n: 1 } } }),
          expect.objectContaining({
            durationMs: 0,
            outcome: { ok: true, result: { n: 1 }, cache: 'hit' },
            decision: { allowedBy: 'caller' },
          }),
        ]);
      });
    });
  });
}

describe('retryDelay', () => {
  const subject = tool({
    retry: { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 1_000 },
    run: () => Promise.resolve(null),
  });
  const unavailable: ToolFailure = { type: 'unavailable', message: 'down' };

  it('backs off exponentially with jitter between half and all of each step, capped', () => {
    const delays = (random: number) =>
      [1, 2, 3, 4, 5].map((attempt) => retryDelay(subject, attempt, unavailable, () => random));
    expect(delays(0)).toEqual([50, 100, 200, 400, 800]);
    expect(delays(0.999_999)).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('never waits less than retry-after, and gives up on a retry-after beyond maxDelayMs', () => {
    const limited = (retryAfterMs: number): ToolFailure => ({
      type: 'rate_limited',
      message: 'slow down',
      retryAfterMs,
    });
    expect(retryDelay(subject, 1, limited(700), () => 0)).toBe(700);
    expect(retryDelay(subject, 4, limited(10), () => 0)).toBe(400);
    expect(retryDelay(subject, 1, limited(1_000), () => 0)).toBe(1_000);
    expect(retryDelay(subject, 1, limited(1_001), () => 0)).toBeUndefined();
  });
});

describe('retries by error type', () => {
  for (const [type, attempts] of [
    ['unavailable', 3],
    ['timeout', 1],
    ['not_found', 1],
  ] as const) {
    it(`makes ${attempts} attempt(s) on ${type} when the tool retries only unavailable`, async () => {
      let runs = 0;
      const subject = tool({
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2, on: ['unavailable'] },
        run: () => {
          runs += 1;
          return Promise.reject(new ToolError(type, 'failing'));
        },
      });
      const outcome = await call(createToolPolicies(), subject);
      expect({ runs, failure: failureOf(outcome)?.type }).toEqual({
        runs: attempts,
        failure: type,
      });
    });
  }
});
