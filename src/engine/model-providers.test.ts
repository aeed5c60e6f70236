import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { DEFAULT_LIMITS, type RunEvent } from '../journal/index.js';
import { TRUSTED_TASK } from '../core/index.js';
import {
  anthropicMessages,
  defineModelTiers,
  openaiChat,
  type ModelAdapterV1,
} from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  startFakeAnthropicServer,
  type FakeAnthropicReply,
  type FakeAnthropicServer,
} from '../testing/fake-anthropic-server.js';
import { startFakeOpenAIServer, type FakeOpenAIServer } from '../testing/fake-openai-server.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, type Runtime } from './index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function anthropicServer(
  respond: (callIndex: number) => FakeAnthropicReply,
): Promise<FakeAnthropicServer> {
  const server = await startFakeAnthropicServer({ respond: ({ callIndex }) => respond(callIndex) });
  closers.push(() => server.close());
  return server;
}

async function openaiServer(): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAIServer({ toolCallsPerRun: 0 });
  closers.push(() => server.close());
  return server;
}

async function runtimeFor(
  agent: Agent,
  maxAttempts = 4,
): Promise<{ runtime: Runtime; store: Store }> {
  const store = await openStore('sqlite::memory:');
  const runtime = createRuntime({
    store,
    agents: [agent],
    modelRetry: { maxAttempts, initialDelayMs: 1, maxDelayMs: 5 },
  });
  closers.push(() => store.close());
  closers.push(() => runtime.close());
  return { runtime, store };
}

async function journal(store: Store, runId: string): Promise<RunEvent[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event);
}

function claude(
  server: FakeAnthropicServer,
  model = 'claude-test',
  stream = false,
): ModelAdapterV1 {
  return anthropicMessages({
    model,
    baseURL: server.url,
    apiKey: 'k',
    stream,
    price: {
      inputPerMillion: 3,
      outputPerMillion: 15,
      cacheReadPerMillion: 0.3,
      cacheWritePerMillion: 3.75,
    },
  });
}

const lookup = defineTool({
  name: 'lookup',
  description: 'Look an order up.',
  input: z.object({ id: z.string() }),
  effect: 'read',
  run: ({ id }) => Promise.resolve({ id, status: 'shipped' }),
});

describe('runs on real provider adapters', () => {
  for (const stream of [false, true]) {
    it(`completes a tool round trip on Anthropic (${stream ? 'SSE' : 'JSON'}), cost from usage incl. cache`, async () => {
      const server = await anthropicServer((callIndex) =>
        callIndex === 0
          ? {
              toolUses: [{ name: 'lookup', input: { id: 'A-1' } }],
              usage: { inputTokens: 100, outputTokens: 20, cacheCreationInputTokens: 1000 },
            }
          : {
              text: 'A-1 shipped.',
              usage: { inputTokens: 150, outputTokens: 10, cacheReadInputTokens: 1000 },
            },
      );
      const agent = defineAgent({
        name: 'orders',
        model: claude(server, 'claude-test', stream),
        instructions: 'You answer order questions.',
        tools: [lookup],
      });
      const { runtime, store } = await runtimeFor(agent);
      const result = await runtime.run('orders', 'Where is A-1?');
      const called = (await journal(store, result.id)).filter(
        (event) => event.type === 'model_called',
      );
      expect({
        status: result.status,
        output: result.output,
        usage: called.map((event) => event.usage),
        // (100*3 + 1000*3.75 + 20*15) / 1e6 and (150*3 + 1000*0.3 + 10*15) / 1e6
        cost: called.map((event) => Math.round((event.costUsd ?? -1) * 1e9) / 1e9),
      }).toEqual({
        status: 'succeeded',
        output: 'A-1 shipped.',
        usage: [
          { inputTokens: 1100, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 1000 },
          { inputTokens: 1150, outputTokens: 10, cacheReadTokens: 1000, cacheWriteTokens: 0 },
        ],
        cost: [0.00435, 0.0009],
      });
    });
  }

  for (const stream of [false, true]) {
    it(`completes a tool round trip on OpenAI (${stream ? 'SSE' : 'JSON'})`, async () => {
      const server = await startFakeOpenAIServer({ toolCallsPerRun: 1, toolName: 'search' });
      closers.push(() => server.close());
      const search = defineTool({
        name: 'search',
        description: 'Search orders.',
        input: z.object({ query: z.string() }),
        effect: 'read',
        run: ({ query }) => Promise.resolve([`${query}: shipped`]),
      });
      const agent = defineAgent({
        name: 'orders',
        model: openaiChat({ model: 'gpt-test', baseURL: server.url, apiKey: 'k', stream }),
        instructions: 'You answer order questions.',
        tools: [search],
      });
      const { runtime, store } = await runtimeFor(agent);
      const result = await runtime.run('orders', 'Where is item 1?');
      const events = await journal(store, result.id);
      expect({
        status: result.status,
        output: result.output,
        tools: events.flatMap((event) =>
          event.type === 'tool_requested' ? [[event.toolName, event.input]] : [],
        ),
      }).toEqual({
        status: 'succeeded',
        output: 'done',
        tools: [['search', { query: 'item-1' }]],
      });
    });
  }

  it('waits out a 429 retry-after and succeeds, every attempt in the journal', async () => {
    const server = await anthropicServer((callIndex) =>
      callIndex === 0 ? { fault: 'rate_limited', retryAfterMs: 30 } : { text: 'ok' },
    );
    const agent = defineAgent({ name: 'a', model: claude(server), instructions: 'Help.' });
    const { runtime, store } = await runtimeFor(agent);
    const started = performance.now();
    const result = await runtime.run('a', 'Hi');
    const elapsed = performance.now() - started;
    const events = await journal(store, result.id);
    expect({
      status: result.status,
      failed: events.flatMap((event) =>
        event.type === 'model_failed'
          ? [
              {
                errorType: event.errorType,
                retryAfterMs: event.retryAfterMs,
                willRetry: event.willRetry,
              },
            ]
          : [],
      ),
      attempts: events.flatMap((event) => (event.type === 'model_called' ? [event.attempts] : [])),
      requests: server.requests,
    }).toEqual({
      status: 'succeeded',
      failed: [{ errorType: 'rate_limited', retryAfterMs: 30, willRetry: true }],
      attempts: [2],
      requests: 2,
    });
    expect(elapsed).toBeGreaterThanOrEqual(30);
  });

  it('moves down the tier on a 500 to the fallback model, journaled, priced as the fallback', async () => {
    const primary = await anthropicServer(() => ({ fault: 'server_error' }));
    const fallback = await openaiServer();
    const tiers = defineModelTiers({
      fast: [
        claude(primary, 'claude-primary'),
        openaiChat({
          model: 'gpt-fallback',
          baseURL: fallback.url,
          apiKey: 'k',
          price: { inputPerMillion: 1, outputPerMillion: 2 },
        }),
      ],
    });
    const agent = defineAgent({
      name: 'triage',
      model: tiers.model('fast'),
      instructions: 'Help.',
    });
    const { runtime, store } = await runtimeFor(agent);
    const result = await runtime.run('triage', 'Hi');
    const events = await journal(store, result.id);
    const called = events.find((event) => event.type === 'model_called');
    expect({
      tier: agent.tier,
      status: result.status,
      failed: events.flatMap((event) =>
        event.type === 'model_failed'
          ? [
              {
                errorType: event.errorType,
                statusCode: event.statusCode,
                fallbackTo: event.fallbackTo,
              },
            ]
          : [],
      ),
      servedBy: called?.type === 'model_called' ? called.model : 'none',
      costKnown: called?.type === 'model_called' ? typeof called.costUsd : 'none',
      requests: [primary.requests, fallback.requests],
    }).toEqual({
      tier: 'fast',
      status: 'succeeded',
      failed: [{ errorType: 'server_error', statusCode: 500, fallbackTo: 'openai:gpt-fallback' }],
      servedBy: 'openai:gpt-fallback',
      costKnown: 'number',
      requests: [1, 1],
    });
  });

  it("checks the budget again at the fallback model's price before calling it", async () => {
    const primary = await anthropicServer(() => ({ fault: 'server_error' }));
    const fallback = await openaiServer();
    const pricey = (outputPerMillion: number) =>
      defineModelTiers({
        fast: [
          claude(primary, 'claude-cheap'),
          openaiChat({
            model: 'gpt-pricey',
            baseURL: fallback.url,
            apiKey: 'k',
            price: { inputPerMillion: 1_000, outputPerMillion },
          }),
        ],
      });
    const agentWith = (outputPerMillion: number, maxCostUsd: number) =>
      defineAgent({
        name: 'triage',
        model: pricey(outputPerMillion).model('fast'),
        instructions: 'Help.',
        limits: { maxCostUsd },
      });
    // A request of a few dozen tokens at $1,000 a million: over a $0.001 limit, under $1.
    const over = await runtimeFor(agentWith(1_000, 0.001));
    const stopped = await over.runtime.run('triage', 'Hi');
    const requestsWhenStopped = fallback.requests;
    const under = await runtimeFor(agentWith(1_000, 1));
    const served = await under.runtime.run('triage', 'Hi');
    expect({
      stopped: [stopped.status, stopped.reason?.type, requestsWhenStopped],
      served: [served.status, fallback.requests],
      failed: (await journal(over.store, stopped.id)).flatMap((event) =>
        event.type === 'model_failed' ? [event.fallbackTo] : [],
      ),
    }).toEqual({
      stopped: ['stopped', 'limit', 0],
      served: ['succeeded', 1],
      failed: ['openai:gpt-pricey'],
    });
  });

  it('does not fall back on a type that another model cannot fix (context_too_long)', async () => {
    const primary = await anthropicServer(() => ({ fault: 'context_too_long' }));
    const fallback = await openaiServer();
    const tiers = defineModelTiers({
      fast: [
        claude(primary),
        openaiChat({ model: 'gpt-fallback', baseURL: fallback.url, apiKey: 'k' }),
      ],
    });
    const agent = defineAgent({
      name: 'triage',
      model: tiers.model('fast'),
      instructions: 'Help.',
    });
    const { runtime } = await runtimeFor(agent);
    const result = await runtime.run('triage', 'Hi');
    expect({
      status: result.status,
      reason: result.reason,
      fallbackRequests: fallback.requests,
    }).toEqual({
      status: 'failed',
      // One retry with a compressed context on the same model, then the typed failure.
      reason: expect.objectContaining({
        type: 'model_error',
        errorType: 'context_too_long',
        attempts: 2,
      }),
      fallbackRequests: 0,
    });
  });

  it('fails with the last error when the whole chain is overloaded', async () => {
    const first = await anthropicServer(() => ({ fault: 'overloaded' }));
    const second = await anthropicServer(() => ({ fault: 'overloaded' }));
    const tiers = defineModelTiers({ frontier: [claude(first, 'one'), claude(second, 'two')] });
    const agent = defineAgent({
      name: 'big',
      model: tiers.model('frontier'),
      instructions: 'Help.',
    });
    const { runtime, store } = await runtimeFor(agent, 2);
    const result = await runtime.run('big', 'Hi');
    const events = await journal(store, result.id);
    expect({
      status: result.status,
      failed: events.flatMap((event) =>
        event.type === 'model_failed' ? [[event.errorType, event.fallbackTo, event.willRetry]] : [],
      ),
    }).toEqual({
      status: 'failed',
      failed: [
        ['overloaded', 'anthropic:two', true],
        ['overloaded', undefined, false],
      ],
    });
  });
});

describe('resuming a step that had fallen back', () => {
  it('goes on with the fallback model, not the overloaded primary', async () => {
    const primary = await anthropicServer(() => ({ text: 'from the primary' }));
    const fallback = await anthropicServer(() => ({ text: 'from the fallback' }));
    const tiers = defineModelTiers({ fast: [claude(primary, 'one'), claude(fallback, 'two')] });
    const agent = defineAgent({
      name: 'router',
      model: tiers.model('fast'),
      instructions: 'Route.',
    });
    const { runtime, store } = await runtimeFor(agent);
    // A worker journaled the move to the fallback, then died before calling it.
    const events: RunEvent[] = [
      {
        type: 'run_started',
        agent: 'router',
        task: 'Route this.',
        taskProvenance: TRUSTED_TASK,
        model: { provider: 'anthropic', modelId: 'one' },
        limits: DEFAULT_LIMITS,
        startedAt: Date.now(),
      },
      {
        type: 'model_failed',
        step: 0,
        attempt: 1,
        errorType: 'overloaded',
        message: 'Overloaded',
        statusCode: 529,
        willRetry: true,
        fallbackTo: 'anthropic:two',
      },
    ];
    const record = await store.createRun({
      id: 'run_resumed_fallback',
      agent: 'router',
      task: 'Route this.',
      createdAt: Date.now(),
      events: events.map((event, index) => ({ seq: index + 1, at: Date.now(), event })),
    });
    const worker = runtime.startWorker({ pollMs: 5 });
    closers.push(() => worker.stop({ abortInFlight: true }));
    let finished = await store.getRun(record.id);
    for (let waited = 0; finished?.status !== 'succeeded' && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      finished = await store.getRun(record.id);
    }
    expect({
      status: finished?.status,
      output: finished?.output,
      requests: [primary.requests, fallback.requests],
    }).toEqual({
      status: 'succeeded',
      output: 'from the fallback',
      requests: [0, 1],
    });
  });
});

describe('defineModelTiers', () => {
  it('refuses an unknown tier, an empty tier and a bad model string, naming it', () => {
    const tiers = defineModelTiers({ fast: [openaiChat({ model: 'm', apiKey: 'k' })] });
    expect(() => tiers.model('frontier')).toThrow(/tier "frontier" is not configured/);
    expect(() => defineModelTiers({ fast: [] })).toThrow(/"fast" must list at least one model/);
    expect(() => defineModelTiers({ fast: ['nope:x'] })).toThrow(/"fast"\[0\]/);
  });
});
