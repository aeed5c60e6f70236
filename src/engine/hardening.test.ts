import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import { KeelError } from '../core/index.js';
import {
  resolveModel,
  simulator,
  type ModelAdapterV1,
  type SimulatorScript,
} from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { ToolError, defineTool, type Tool } from '../tools/index.js';
import { createRuntime, type Runtime } from './index.js';

const stores: Store[] = [];
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
  for (const store of stores.splice(0)) await store.close();
});

async function setup(
  agents: Agent[],
  options: {
    maxClaims?: number;
    leaseMs?: number;
    resolveModel?: (spec: string) => ModelAdapterV1;
  } = {},
): Promise<{ store: Store; runtime: Runtime }> {
  const store = await openStore('sqlite::memory:');
  stores.push(store);
  const runtime = createRuntime({
    store,
    agents,
    modelRetry: { initialDelayMs: 1, maxDelayMs: 5 },
    ...(options.maxClaims === undefined ? {} : { maxClaims: options.maxClaims }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.resolveModel ? { resolveModel: options.resolveModel } : {}),
  });
  runtimes.push(runtime);
  return { store, runtime };
}

function agentWith(name: string, script: SimulatorScript, tools: Tool[], limits = {}): Agent {
  return defineAgent({
    name,
    model: simulator({ script }),
    instructions: 'Help.',
    tools,
    limits,
  });
}

async function types(store: Store, runId: string): Promise<RunEvent[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event);
}

describe('engine hardening', () => {
  it('names the agents that share a name when the runtime is created', async () => {
    const store = await openStore('sqlite::memory:');
    stores.push(store);
    const agent = (name: string) =>
      defineAgent({ name, instructions: 'x', model: simulator({ script: [{ text: 'hi' }] }) });
    const error = (() => {
      try {
        createRuntime({ store, agents: [agent('a'), agent('b'), agent('a')] });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(KeelError.isInstance(error) && error.code).toBe('invalid_config');
    expect((error as Error).message).toContain('"a" given more than once');
  });

  it('records a result that is not JSON as a typed tool failure and goes on', async () => {
    const cyclic = defineTool({
      name: 'cyclic',
      description: 'returns a cyclic object',
      input: z.object({}),
      effect: 'read',
      run() {
        const value: Record<string, unknown> = {};
        value.self = value;
        return Promise.resolve(value);
      },
    });
    const agent = agentWith(
      'cyc',
      [{ toolCalls: [{ name: 'cyclic', args: {} }] }, { text: 'ok' }],
      [cyclic],
    );
    const { store, runtime } = await setup([agent]);
    const result = await runtime.run('cyc', 'go');
    expect(result.status).toBe('succeeded');
    const failed = (await types(store, result.id)).find((event) => event.type === 'tool_failed');
    expect(failed).toMatchObject({ type: 'tool_failed', final: true, error: { type: 'internal' } });
  });

  it('gives repeated or empty call ids of one reply distinct ids', async () => {
    const echo = defineTool({
      name: 'echo',
      description: 'echo',
      input: z.object({ text: z.string() }),
      effect: 'read',
      run: ({ text }) => Promise.resolve(text),
    });
    const model: ModelAdapterV1 = {
      specificationVersion: 'v1',
      provider: 'test',
      modelId: 'dup-ids',
      doGenerate(request) {
        const answered = request.messages.some((message) => message.role === 'tool');
        return Promise.resolve({
          content: answered
            ? [{ type: 'text', text: 'done' }]
            : [
                { type: 'tool_call', callId: '', toolName: 'echo', arguments: '{"text":"a"}' },
                { type: 'tool_call', callId: '', toolName: 'echo', arguments: '{"text":"b"}' },
              ],
          usage: { inputTokens: 1, outputTokens: 1 },
          finishReason: answered ? 'stop' : 'tool_calls',
        });
      },
    };
    const agent = defineAgent({ name: 'dup', model, instructions: 'Help.', tools: [echo] });
    const { store, runtime } = await setup([agent]);
    const result = await runtime.run('dup', 'go');
    const finished = (await types(store, result.id)).flatMap((event) =>
      event.type === 'tool_finished' ? [[event.callId, event.content]] : [],
    );
    expect(result.status).toBe('succeeded');
    expect(new Set(finished.map(([callId]) => callId)).size).toBe(2);
    expect(finished.map(([, content]) => content).sort()).toEqual(['a', 'b']);
  });

  it('journals the raw arguments and gives the tool its parsed input', async () => {
    const seen: string[] = [];
    const schedule = defineTool({
      name: 'schedule',
      description: 'schedule at a time',
      input: z.object({ at: z.string().transform((text) => new Date(text)) }),
      effect: 'read',
      run: ({ at }) => {
        seen.push(at instanceof Date ? 'date' : typeof at);
        return Promise.resolve(at.toISOString());
      },
    });
    const agent = agentWith(
      'sched',
      [{ toolCalls: [{ name: 'schedule', args: { at: '2026-11-24T10:00:00Z' } }] }, { text: 'ok' }],
      [schedule],
    );
    const { store, runtime } = await setup([agent]);
    const result = await runtime.run('sched', 'go');
    const requested = (await types(store, result.id)).find(
      (event) => event.type === 'tool_requested',
    );
    expect(requested).toMatchObject({ input: { at: '2026-11-24T10:00:00Z' } });
    expect(seen).toEqual(['date']);
    expect(result.status).toBe('succeeded');
  });

  it('ends a run at its timeout while a tool waits out a long retry-after', async () => {
    const limited = defineTool({
      name: 'limited',
      description: 'always rate limited',
      input: z.object({}),
      effect: 'read',
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 60_000 },
      run: () =>
        Promise.reject(new ToolError('rate_limited', 'slow down', { retryAfterMs: 30_000 })),
    });
    const agent = agentWith(
      'wait',
      () => ({ toolCalls: [{ name: 'limited', args: {} }] }),
      [limited],
      {
        timeoutMs: 300,
      },
    );
    const { store, runtime } = await setup([agent]);
    const started = Date.now();
    const result = await runtime.run('wait', 'go');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.reason).toMatchObject({ type: 'limit', limit: 'timeout' });
    const attempts = (await types(store, result.id)).filter(
      (event) => event.type === 'tool_started',
    );
    expect(attempts).toHaveLength(1);
  });

  it('ends a run at its timeout when the model adapter ignores its signal', async () => {
    const deaf: ModelAdapterV1 = {
      specificationVersion: 'v1',
      provider: 'test',
      modelId: 'deaf',
      doGenerate: () =>
        new Promise((resolve) =>
          setTimeout(() => {
            resolve({
              content: [{ type: 'text', text: 'late' }],
              usage: { inputTokens: 1, outputTokens: 1 },
              finishReason: 'stop',
            });
          }, 3_000),
        ),
    };
    const agent = defineAgent({
      name: 'deaf',
      model: deaf,
      instructions: 'Help.',
      limits: { timeoutMs: 200 },
    });
    const { runtime } = await setup([agent]);
    const started = Date.now();
    const result = await runtime.run('deaf', 'go');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect({ status: result.status, reason: result.reason.type }).toEqual({
      status: 'stopped',
      reason: 'limit',
    });
  });

  it('fails a queued run at once when this worker cannot build its model, instead of claiming it forever', async () => {
    const agent = agentWith('remote', [{ text: 'ok' }], []);
    const { runtime, store } = await setup([agent], {
      resolveModel: () => {
        throw new KeelError('invalid_config', 'no OPENAI_API_KEY here');
      },
    });
    const record = await store.createRun({
      id: 'run_remote',
      agent: 'remote',
      task: 'go',
      createdAt: Date.now(),
      events: [
        {
          seq: 1,
          at: Date.now(),
          event: {
            type: 'run_started',
            agent: 'remote',
            task: 'go',
            taskProvenance: { trust: 'trusted', source: 'task' },
            model: { provider: 'openai', modelId: 'gpt-x' },
            modelSpec: 'openai:gpt-x',
            limits: agent.limits,
            startedAt: Date.now(),
          },
        },
      ],
    });
    const worker = runtime.startWorker({ pollMs: 10 });
    const result = await runtime.wait(record.id, { pollMs: 10 });
    await worker.stop();
    expect(result.status).toBe('failed');
    expect(result.reason).toMatchObject({ type: 'internal' });
    expect((await store.getRun(record.id))?.claims).toBe(1);
  });

  it("refuses a run's model string it cannot resolve as the caller's input (invalid_input), before any run exists", async () => {
    const agent = agentWith('helper', [{ text: 'ok' }], []);
    const { runtime, store } = await setup([agent], {
      resolveModel: (spec) => resolveModel(spec, agent.model, { env: {}, onWarning: () => {} }),
    });
    const done = await runtime.run('helper', 'go');
    const attempts: [string, () => Promise<unknown>][] = [
      ['run', () => runtime.run('helper', 'go', { model: 'bogus' })],
      ['submit', () => runtime.submit('helper', 'go', { model: 'anthropic:claude-sonnet-4-6' })],
      ['fork', () => runtime.fork(done.id, { fromStep: 0, model: 'openai-compatible:notaurl#m' })],
    ];
    for (const [name, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect([name, KeelError.isInstance(error) && error.code]).toEqual([name, 'invalid_input']);
      expect((error as Error).message).toMatch(/^(unknown )?model "/);
    }
    expect((await store.listRuns()).map((run) => run.id)).toEqual([done.id]);
    // An agent's own model string is its definition, not a caller's input.
    expect(() => defineAgent({ name: 'broken', instructions: 'x', model: 'bogus' })).toThrow(
      expect.objectContaining({ code: 'invalid_definition' }) as Error,
    );
  });

  it("refuses a run's model whose resolver gave it a price no cost can be computed from", async () => {
    const agent = agentWith('helper', [{ text: 'ok' }], [], { maxCostUsd: 0.01 });
    const { runtime, store } = await setup([agent], {
      resolveModel: () => ({
        ...simulator({ script: [{ text: 'ok' }] }),
        price: { inputPerMillion: -50, outputPerMillion: 1 },
      }),
    });
    const error = await runtime.run('helper', 'go', { model: 'custom:x' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect([KeelError.isInstance(error) && error.code, (error as Error).message]).toEqual([
      'invalid_input',
      'model "custom:x" has a price no cost can be computed from: "price.inputPerMillion" Too small: expected number to be >=0',
    ]);
    expect(await store.listRuns()).toEqual([]);
  });

  it('rejects a timeout a Node.js timer cannot wait for, naming the field', () => {
    const build = () => agentWith('huge', [], [], { timeoutMs: 30 * 24 * 3_600_000 });
    expect(build).toThrow(/limits\.timeoutMs/);
  });

  it('continues with the next attempt, not a re-issue, after a recorded retryable failure', async () => {
    const attempts: number[] = [];
    const flaky = defineTool({
      name: 'flaky',
      description: 'flaky',
      input: z.object({}),
      effect: 'read',
      retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      run: (_, { attempt }) => {
        attempts.push(attempt);
        return Promise.resolve('fine');
      },
    });
    const agent = agentWith(
      'resume',
      [{ toolCalls: [{ name: 'flaky', args: {} }] }, { text: 'ok' }],
      [flaky],
    );
    const { runtime, store } = await setup([agent], { leaseMs: 50 });
    const at = Date.now();
    const call = { step: 0, callId: 'call_0_0', toolName: 'flaky' };
    const journal: RunEvent[] = [
      {
        type: 'run_started',
        agent: 'resume',
        task: 'go',
        taskProvenance: { trust: 'trusted', source: 'task' },
        model: { provider: 'simulator', modelId: 'simulator' },
        limits: agent.limits,
        startedAt: at,
      },
      { type: 'run_claimed', workerId: 'dead', claim: 1 },
      {
        type: 'model_called',
        step: 0,
        content: [{ type: 'tool_call', callId: 'call_0_0', toolName: 'flaky', arguments: '{}' }],
        finishReason: 'tool_calls',
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: 0,
        estimatedInputTokens: 1,
        latencyMs: 1,
        attempts: 1,
        provenance: { trust: 'trusted', source: 'model' },
      },
      { type: 'tool_requested', ...call, index: 0, input: {}, effect: 'read' },
      { type: 'tool_started', ...call, idempotencyKey: 'run_r:0:0', attempt: 1 },
      {
        type: 'tool_failed',
        ...call,
        error: { type: 'unavailable', message: 'down' },
        provenance: { trust: 'trusted', source: 'tool:flaky' },
        attempt: 1,
        final: false,
      },
    ];
    await store.createRun({
      id: 'run_r',
      agent: 'resume',
      task: 'go',
      createdAt: at,
      events: journal.map((event, index) => ({ seq: index + 1, at, event })),
      claimBy: { workerId: 'dead', leaseUntil: at - 1 },
    });
    const worker = runtime.startWorker({ pollMs: 10 });
    const result = await runtime.wait('run_r', { pollMs: 10 });
    await worker.stop();
    expect(result.status).toBe('succeeded');
    expect(attempts).toEqual([2]);
    const restarted = (await types(store, 'run_r'))
      .filter((event) => event.type === 'tool_started')
      .slice(1);
    expect(restarted).toMatchObject([{ attempt: 2 }]);
    expect(restarted[0]).not.toHaveProperty('reissued');
  });

  it('records a clean release so the watchdog does not count it as a lost worker', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = defineTool({
      name: 'slow',
      description: 'waits',
      input: z.object({}),
      effect: 'read',
      run: (_, { signal }) =>
        new Promise((resolve, reject) => {
          signal.addEventListener('abort', () => {
            reject(new Error('aborted'));
          });
          void gate.then(() => {
            resolve('done');
          });
        }),
    });
    const agent = agentWith(
      'rel',
      [{ toolCalls: [{ name: 'slow', args: {} }] }, { text: 'ok' }],
      [slow],
    );
    const { runtime, store } = await setup([agent], { maxClaims: 1 });
    const record = await runtime.submit('rel', 'go');
    runtime.startWorker({ pollMs: 10 });
    for (let tries = 0; tries < 200; tries++) {
      const events = await types(store, record.id);
      if (events.some((event) => event.type === 'tool_started')) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await runtime.close();
    expect((await types(store, record.id)).map((event) => event.type)).toContain('run_released');

    // A second runtime (a new deploy) resumes it: with maxClaims 1 it would have been
    // failed as worker_lost had the release counted as a lost worker.
    const next = createRuntime({ store, agents: [agent], maxClaims: 1 });
    runtimes.push(next);
    next.startWorker({ pollMs: 10 });
    release();
    const result = await next.wait(record.id, { pollMs: 10 });
    expect(result.status).toBe('succeeded');
  });
});
