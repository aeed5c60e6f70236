import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { TRUSTED_TASK, type Clock } from '../core/index.js';
import { elapsedMs, foldRun, type RunEvent } from '../journal/index.js';
import { SIMULATOR_PRICE, costOf, simulator, type SimulatorScript } from '../model/index.js';
import { alertMonitor, type Alert } from '../observe/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool, type Tool } from '../tools/index.js';
import {
  createRuntime,
  idempotencyKey,
  newRunId,
  type Runtime,
  type RuntimeOptions,
  type Worker,
} from './index.js';
import { POSTGRES_URL, storeTargets } from '../../test/support/store-targets.js';

const CHARGE_CALL = {
  type: 'tool_call',
  callId: 'call_0_0',
  toolName: 'charge_card',
  arguments: '{"amount":5}',
} as const;

function agentWith(name: string, script: SimulatorScript, tools: readonly Tool[] = []): Agent {
  return defineAgent({
    name,
    model: simulator({ script }),
    instructions: 'You help customers with their orders.',
    tools,
  });
}

/** A clock the test moves by hand. */
function handClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

/** The journal a worker leaves behind when it dies after starting the step-0 charge. */
function crashedJournal(agent: Agent, runId: string, now: number): RunEvent[] {
  const usage = { inputTokens: 50, outputTokens: 10 };
  return [
    {
      type: 'run_started',
      agent: agent.name,
      task: 'Charge the customer 5.',
      taskProvenance: TRUSTED_TASK,
      model: { provider: 'simulator', modelId: 'simulator' },
      limits: agent.limits,
      startedAt: now,
    },
    { type: 'run_claimed', workerId: 'dead-worker', claim: 1, at: now },
    {
      type: 'model_called',
      step: 0,
      content: [CHARGE_CALL],
      finishReason: 'tool_calls',
      usage,
      costUsd: costOf(usage, SIMULATOR_PRICE),
      estimatedInputTokens: 50,
      latencyMs: 1,
      attempts: 1,
      provenance: { trust: 'trusted', source: 'model' },
    },
    {
      type: 'tool_requested',
      step: 0,
      callId: 'call_0_0',
      index: 0,
      toolName: 'charge_card',
      input: { amount: 5 },
      effect: 'write',
    },
    {
      type: 'tool_started',
      step: 0,
      callId: 'call_0_0',
      toolName: 'charge_card',
      idempotencyKey: idempotencyKey(runId, 0, 0),
      attempt: 1,
    },
  ];
}

describe('run time', () => {
  it('counts from the first claim, and from the start in journals that do not date claims', () => {
    const started: RunEvent = {
      type: 'run_started',
      agent: 'a',
      task: 't',
      taskProvenance: TRUSTED_TASK,
      model: { provider: 'simulator', modelId: 'simulator' },
      limits: agentWith('a', () => ({ text: 'x' })).limits,
      startedAt: 1_000,
    };
    const dated = foldRun([started, { type: 'run_claimed', workerId: 'w', claim: 1, at: 61_000 }]);
    const undated = foldRun([started, { type: 'run_claimed', workerId: 'w', claim: 1 }]);
    expect([elapsedMs(dated, 62_000), elapsedMs(undated, 62_000)]).toEqual([1_000, 61_000]);
  });
});

for (const target of storeTargets('keel_so_')) {
  describe(`scale-out on ${target.name}`, () => {
    let store: Store;
    let dispose: (() => Promise<void>) | undefined;
    const runtimes: Runtime[] = [];
    const workers: Worker[] = [];

    beforeAll(async () => {
      ({ store, dispose } = await target.open());
    });

    afterAll(async () => {
      await dispose?.();
    });

    afterEach(async () => {
      await Promise.all(workers.splice(0).map((worker) => worker.stop({ abortInFlight: true })));
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    });

    function makeRuntime(agents: readonly Agent[], options: Partial<RuntimeOptions> = {}): Runtime {
      const runtime = createRuntime({
        store,
        agents,
        modelRetry: { initialDelayMs: 1, maxDelayMs: 5 },
        ...options,
      });
      runtimes.push(runtime);
      return runtime;
    }

    function startWorker(runtime: Runtime, concurrency?: number): Worker {
      const worker = runtime.startWorker({ pollMs: 10, ...(concurrency ? { concurrency } : {}) });
      workers.push(worker);
      return worker;
    }

    async function journal(runId: string): Promise<RunEvent[]> {
      return (await store.readEvents(runId)).map((entry) => entry.event);
    }

    describe('time in the queue', () => {
      it('runs a run queued longer than its timeout, timed from its first claim', async () => {
        const clock = handClock(Date.now());
        const runtime = makeRuntime([agentWith('late', () => ({ text: 'done' }))], { clock });
        const { id } = await runtime.submit('late', 'Answer.', { limits: { timeoutMs: 60_000 } });
        clock.advance(10 * 60_000);
        startWorker(runtime);
        const result = await runtime.wait(id, { pollMs: 10 });
        expect([result.status, result.output]).toEqual(['succeeded', 'done']);
      });

      it('stops a run that waited past maxQueueMs with queue_time and no model call', async () => {
        const clock = handClock(Date.now());
        const steps: number[] = [];
        const agent = agentWith('queued', ({ step }) => {
          steps.push(step);
          return { text: 'done' };
        });
        const runtime = makeRuntime([agent], { clock });
        const { id } = await runtime.submit('queued', 'Answer.', { limits: { maxQueueMs: 1_000 } });
        clock.advance(1_500);
        startWorker(runtime);
        const result = await runtime.wait(id, { pollMs: 10 });
        expect({ status: result.status, reason: result.reason, steps }).toEqual({
          status: 'stopped',
          reason: { type: 'limit', limit: 'queue_time', used: 1_500, max: 1_000 },
          steps: [],
        });
      });

      it('runs a run claimed within maxQueueMs', async () => {
        const clock = handClock(Date.now());
        const runtime = makeRuntime([agentWith('prompt', () => ({ text: 'done' }))], { clock });
        const { id } = await runtime.submit('prompt', 'Answer.', { limits: { maxQueueMs: 1_000 } });
        clock.advance(900);
        startWorker(runtime);
        expect((await runtime.wait(id, { pollMs: 10 })).status).toBe('succeeded');
      });
    });

    describe('the watchdog leaves no doubt', () => {
      function chargeAgent(name: string, idempotent: boolean) {
        const charges: string[] = [];
        const charge = defineTool({
          name: 'charge_card',
          description: 'Charge the card',
          input: z.object({ amount: z.number() }),
          effect: 'write',
          idempotent,
          retry: { initialDelayMs: 1, maxDelayMs: 5 },
          run: (_input, context) => {
            charges.push(context.idempotencyKey);
            return Promise.resolve('charged 5');
          },
        });
        const steps: number[] = [];
        const agent = agentWith(
          name,
          ({ step }) => {
            steps.push(step);
            return { text: 'Charged.' };
          },
          [charge],
        );
        return { agent, charges, steps };
      }

      async function crashedRun(agent: Agent, deadClaims: number): Promise<string> {
        const runId = newRunId();
        const now = Date.now();
        await store.createRun({
          id: runId,
          agent: agent.name,
          task: 'Charge the customer 5.',
          createdAt: now,
          events: crashedJournal(agent, runId, now).map((event, index) => ({
            seq: index + 1,
            at: now,
            event,
          })),
          claimBy: { workerId: 'dead-worker', leaseUntil: now - 1_000 },
        });
        // Further workers that claimed it and died at once.
        for (let claim = 1; claim < deadClaims; claim++) {
          const dead = await store.claimNext({
            workerId: `dead-${claim}`,
            now: Date.now(),
            leaseMs: -1,
            agents: [agent.name],
          });
          expect(dead?.id).toBe(runId);
        }
        return runId;
      }

      function alerts(): { observer: ReturnType<typeof alertMonitor>; raised: Alert[] } {
        const raised: Alert[] = [];
        return { observer: alertMonitor({ onAlert: (alert) => raised.push(alert) }), raised };
      }

      it('ends a run with a started non-idempotent call escalated in_doubt, with an alert', async () => {
        const { agent, charges, steps } = chargeAgent('doubt', false);
        const runId = await crashedRun(agent, 1);
        const monitor = alerts();
        const runtime = makeRuntime([agent], { maxClaims: 1, observers: [monitor.observer] });
        const worker = startWorker(runtime);
        const result = await runtime.wait(runId, { pollMs: 10 });
        // The run may show as ended before the worker has told its observers: the store ends
        // it at the claim, and the worker reads its journal after. Stopping waits for that.
        await worker.stop();
        await monitor.observer.flush();
        const key = idempotencyKey(runId, 0, 0);
        expect({
          status: result.status,
          reason: result.reason,
          charges,
          steps,
          alerts: monitor.raised.map((alert) => [alert.kind, alert.runId]),
        }).toEqual({
          status: 'escalated',
          reason: {
            type: 'in_doubt',
            attempts: 1,
            calls: [{ step: 0, callId: 'call_0_0', toolName: 'charge_card', idempotencyKey: key }],
          },
          charges: [],
          steps: [],
          alerts: [['in_doubt', runId]],
        });
      });

      it('re-issues a started idempotent call once with its key, then fails worker_lost', async () => {
        const { agent, charges, steps } = chargeAgent('reissue', true);
        const runId = await crashedRun(agent, 1);
        const runtime = makeRuntime([agent], { maxClaims: 1 });
        startWorker(runtime);
        const result = await runtime.wait(runId, { pollMs: 10 });
        const events = await journal(runId);
        expect({
          status: result.status,
          reason: result.reason,
          charges,
          steps,
          finished: events.filter((event) => event.type === 'tool_finished').length,
        }).toEqual({
          status: 'failed',
          reason: { type: 'worker_lost', attempts: 1 },
          charges: [idempotencyKey(runId, 0, 0)],
          steps: [],
          finished: 1,
        });
      });

      it('ends the run in the store when the watchdog claim was lost too, claiming no more', async () => {
        const { agent, charges } = chargeAgent('spent', true);
        // One lost execution (maxClaims 1), then a lost watchdog claim.
        const runId = await crashedRun(agent, 2);
        const monitor = alerts();
        const runtime = makeRuntime([agent], { maxClaims: 1, observers: [monitor.observer] });
        const worker = startWorker(runtime);
        const result = await runtime.wait(runId, { pollMs: 10 });
        // The run may show as ended before the worker has told its observers: the store ends
        // it at the claim, and the worker reads its journal after. Stopping waits for that.
        await worker.stop();
        await monitor.observer.flush();
        const events = await journal(runId);
        expect({
          status: result.status,
          reason: result.reason.type,
          charges,
          claims: (await store.getRun(runId))?.claims,
          claimEvents: events.filter((event) => event.type === 'run_claimed').length,
          alerts: monitor.raised.map((alert) => alert.kind),
        }).toEqual({
          status: 'escalated',
          reason: 'in_doubt',
          charges: [],
          claims: 2,
          claimEvents: 2,
          alerts: ['in_doubt'],
        });
      });

      it('resumes a run with a started call while claims are left (no doubt to settle yet)', async () => {
        const { agent, charges } = chargeAgent('resume', false);
        const runId = await crashedRun(agent, 1);
        const runtime = makeRuntime([agent], { maxClaims: 2 });
        startWorker(runtime);
        const result = await runtime.wait(runId, { pollMs: 10 });
        expect([result.status, charges]).toEqual(['succeeded', [idempotencyKey(runId, 0, 0)]]);
      });
    });

    it('refuses a maxConcurrentRuns bound that names no agent or is not a positive integer', () => {
      const agent = agentWith('known', () => ({ text: 'x' }));
      const codeOf = (bounds: Record<string, number>): unknown => {
        try {
          createRuntime({ store, agents: [agent], maxConcurrentRuns: bounds });
          return 'created';
        } catch (error) {
          return (error as { code?: unknown }).code;
        }
      };
      expect([codeOf({ known: 2 }), codeOf({ other: 2 }), codeOf({ known: 0 })]).toEqual([
        'created',
        'invalid_config',
        'invalid_config',
      ]);
    });

    if (target.name === 'postgres') {
      it('wakes an idle worker for a run queued by another process, long before its poll', async () => {
        const schema = /schema=(\w+)/.exec(store.location)?.[1] ?? '';
        const elsewhere = await openStore(POSTGRES_URL, { postgresSchema: schema });
        try {
          const agent = agentWith('woken', () => ({ text: 'done' }));
          const runtime = makeRuntime([agent]);
          const worker = runtime.startWorker({ pollMs: 600_000 });
          workers.push(worker);
          // Let the worker's first (empty) claim and its LISTEN settle.
          await new Promise((resolve) => setTimeout(resolve, 500));
          const submitter = createRuntime({ store: elsewhere, agents: [agent] });
          const { id } = await submitter.submit('woken', 'Answer.');
          const result = await Promise.race([
            runtime.wait(id, { pollMs: 20 }),
            new Promise<'not woken'>((resolve) => {
              setTimeout(() => {
                resolve('not woken');
              }, 30_000);
            }),
          ]);
          expect(result === 'not woken' ? result : result.status).toBe('succeeded');
          await submitter.close();
        } finally {
          await elsewhere.close();
        }
      });
    }

    describe('provider limits', () => {
      it('paces model calls of every run by the shared requests-per-minute budget', async () => {
        let calls = 0;
        const agent = agentWith('paced', () => {
          calls += 1;
          return { text: 'done' };
        });
        // The budget's grants, at the time each was asked for: what pacing is about, whatever
        // delays a busy machine adds between a grant and the call.
        const granted: number[] = [];
        const budgets = store.providerBudgets;
        const recording = new Proxy(store, {
          get(target, property) {
            if (property === 'providerBudgets')
              return {
                take: async (request: Parameters<typeof budgets.take>[0]) => {
                  const waitMs = await budgets.take(request);
                  if (waitMs === 0) granted.push(request.now);
                  return waitMs;
                },
                pause: (key: string, until: number) => budgets.pause(key, until),
              } satisfies typeof budgets;
            const value: unknown = Reflect.get(target, property);
            return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
          },
        });
        const runtime = makeRuntime([agent], {
          store: recording,
          providerLimits: { simulator: { rpm: 300 } },
        });
        const records = await Promise.all(
          ['a', 'b', 'c'].map((task) => runtime.submit('paced', task)),
        );
        startWorker(runtime);
        await Promise.all(records.map((record) => runtime.wait(record.id, { pollMs: 10 })));
        expect(calls).toBe(3);
        expect(granted).toHaveLength(3);
        // 300 per minute: 200 ms apart, so the third grant comes at least 400 ms after the first.
        const sorted = granted.toSorted((a, b) => a - b);
        expect(sorted[1]! - sorted[0]!).toBeGreaterThanOrEqual(199);
        expect(sorted[2]! - sorted[0]!).toBeGreaterThanOrEqual(399);
      });

      it("pauses the provider's budget for every worker on a 429's retry-after", async () => {
        const before = Date.now();
        const agent = defineAgent({
          name: 'limited',
          model: simulator({
            script: [
              { text: 'ok', failFirst: { type: 'rate_limited', times: 1, retryAfterMs: 300 } },
            ],
          }),
          instructions: 'Answer.',
        });
        const limits = { simulator: { rpm: 60_000 } };
        const runtime = makeRuntime([agent], { providerLimits: limits });
        expect((await runtime.run('limited', 'Answer.')).status).toBe('succeeded');
        const waitMs = await store.providerBudgets.take({
          key: 'simulator',
          rpm: 60_000,
          tokens: 0,
          now: before,
        });
        expect(waitMs).toBeGreaterThanOrEqual(300);
      });

      it('leaves a provider without a limit alone on a 429', async () => {
        const before = Date.now();
        const agent = defineAgent({
          name: 'unlimited',
          model: simulator({
            script: [
              { text: 'ok', failFirst: { type: 'rate_limited', times: 1, retryAfterMs: 300 } },
            ],
          }),
          instructions: 'Answer.',
        });
        const runtime = makeRuntime([agent], { providerLimits: { other: { rpm: 60 } } });
        expect((await runtime.run('unlimited', 'Answer.')).status).toBe('succeeded');
        expect(
          await store.providerBudgets.take({
            key: 'simulator',
            rpm: 60_000,
            tokens: 0,
            now: before,
          }),
        ).toBe(0);
      });

      it('refuses a provider limit without a positive rpm or tpm, naming the field', () => {
        const agent = agentWith('x', () => ({ text: 'x' }));
        const messageOf = (limits: Record<string, { rpm?: number; tpm?: number }>): unknown => {
          try {
            createRuntime({ store, agents: [agent], providerLimits: limits });
            return 'created';
          } catch (error) {
            return (error as { message?: unknown }).message;
          }
        };
        expect([
          messageOf({ openai: { rpm: 60 } }),
          messageOf({ openai: { rpm: 0 } }),
          messageOf({ openai: {} }),
        ]).toEqual([
          'created',
          'createRuntime: "providerLimits.openai.rpm" must be a positive number',
          'createRuntime: "providerLimits.openai" needs rpm or tpm',
        ]);
      });
    });

    it('raises no MaxListenersExceededWarning with 64 runs in flight on one worker', async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning.name);
      };
      process.on('warning', onWarning);
      try {
        let inFlight = 0;
        let release!: () => void;
        const allIn = new Promise<void>((resolve) => {
          release = resolve;
        });
        const wait = defineTool({
          name: 'wait_for_all',
          description: 'Waits until every run is in flight',
          input: z.object({}),
          effect: 'read',
          bulkhead: { maxConcurrent: 64, maxQueued: 64 },
          run: async () => {
            inFlight += 1;
            if (inFlight === 64) release();
            await allIn;
            return 'ok';
          },
        });
        const agent = agentWith(
          'wide',
          ({ step }) =>
            step === 0 ? { toolCalls: [{ name: 'wait_for_all', args: {} }] } : { text: 'done' },
          [wait],
        );
        const runtime = makeRuntime([agent]);
        const records = await Promise.all(
          Array.from({ length: 64 }, (_, index) => runtime.submit('wide', `task ${index}`)),
        );
        startWorker(runtime, 64);
        const results = await Promise.all(
          records.map((record) => runtime.wait(record.id, { pollMs: 20 })),
        );
        await new Promise((resolve) => setImmediate(resolve));
        expect({
          statuses: new Set(results.map((result) => result.status)),
          inFlight,
          warnings: warnings.filter((name) => name === 'MaxListenersExceededWarning'),
        }).toEqual({ statuses: new Set(['succeeded']), inFlight: 64, warnings: [] });
      } finally {
        process.off('warning', onWarning);
      }
    }, 120_000);
  });
}
