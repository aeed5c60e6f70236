import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type AgentDefinition } from '../agent/index.js';
import { defineGuard } from '../guard/index.js';
import type { RunEvent } from '../journal/index.js';
import { simulator, type ModelAdapterV1, type ModelPrice } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, replayRun, type Runtime } from './index.js';

/*
 * The quarantined reader's and the planner's calls are the run's spending: their usage and
 * cost count towards its totals and its token and cost limits, as the tool-using model's do.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const PRICE: ModelPrice = { inputPerMillion: 10, outputPerMillion: 10 };
/** What the side model (reader or planner) reports per call: $5.01 at `PRICE`. */
const SIDE_USAGE = { inputTokens: 500_000, outputTokens: 1_000 };
/** Limits that let every call of these runs through. */
const ROOMY = { maxTokens: 10_000_000, maxCostUsd: 100 };
/** What the tool-using model reports per call. */
const MAIN_USAGE = { inputTokens: 100, outputTokens: 10 };

/** Reads the email once, then answers. */
const mainModel = simulator({
  script: [
    { toolCalls: [{ name: 'read_email', args: {} }], usage: MAIN_USAGE },
    { text: 'done', usage: MAIN_USAGE },
  ],
  price: PRICE,
});

/** A reader that extracts the generic fields and reports `SIDE_USAGE`. */
const reader = (price: ModelPrice | null): ModelAdapterV1 =>
  simulator({
    script: () => ({
      text: JSON.stringify({ summary: 'Lunch', facts: [], links: [], entities: [] }),
      usage: SIDE_USAGE,
    }),
    price,
  });

/** A planner that finds no consequential tool in the task and reports `SIDE_USAGE`. */
const planner = simulator({
  script: () => ({ text: JSON.stringify({ tools: [] }), usage: SIDE_USAGE }),
  price: PRICE,
});

async function world(
  definition: Pick<AgentDefinition, 'untrusted' | 'limits'>,
): Promise<{ runtime: Runtime; store: Store }> {
  const store = await openStore('sqlite::memory:');
  const agent = defineAgent({
    name: 'mail',
    model: mainModel,
    instructions: 'You handle mail for the user.',
    tools: [
      defineTool({
        name: 'read_email',
        description: 'Read the latest email',
        input: z.object({}),
        effect: 'read',
        untrustedOutput: true,
        run: () => Promise.resolve('Lunch on Friday?'),
      }),
      defineTool({
        name: 'send_email',
        description: 'Send an email',
        input: z.object({ to: z.string(), body: z.string() }),
        effect: 'egress',
        run: () => Promise.resolve({ sent: true }),
      }),
    ],
    guard: defineGuard({ tools: { send_email: { sinks: ['to'] } } }),
    ...definition,
  });
  const runtime = createRuntime({ store, agents: [agent] });
  cleanups.push(
    () => store.close(),
    () => runtime.close(),
  );
  return { runtime, store };
}

async function events(store: Store, runId: string): Promise<RunEvent[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event);
}

async function quarantinedEvent(store: Store, runId: string): Promise<RunEvent | undefined> {
  return (await events(store, runId)).find((event) => event.type === 'tool_quarantined');
}

/** A run's totals: the tool-using model's two calls and one call of the reader or planner. */
function withSideCall(costUsd: number, costKnown: boolean) {
  return {
    inputTokens: 2 * MAIN_USAGE.inputTokens + SIDE_USAGE.inputTokens,
    outputTokens: 2 * MAIN_USAGE.outputTokens + SIDE_USAGE.outputTokens,
    costUsd: expect.closeTo(costUsd, 9) as number,
    costKnown,
  };
}

const quarantine = (price: ModelPrice | null) =>
  ({ handling: 'quarantine', detector: false, reader: { model: reader(price) } }) as const;

describe('the quarantined reader’s spending', () => {
  it('stops the run on the token limit when the reader’s usage passes it', async () => {
    const { runtime } = await world({
      untrusted: quarantine(PRICE),
      limits: { maxTokens: 100_000, maxCostUsd: 0.5 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('stopped');
    expect(result.reason).toEqual({
      type: 'limit',
      limit: 'tokens',
      used: expect.any(Number) as number,
      max: 100_000,
    });
    expect(result.usage.inputTokens).toBe(MAIN_USAGE.inputTokens + SIDE_USAGE.inputTokens);
  });

  it('stops the run on the cost limit when the reader’s cost passes it', async () => {
    const { runtime } = await world({
      untrusted: quarantine(PRICE),
      limits: { maxTokens: 10_000_000, maxCostUsd: 0.5 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('stopped');
    expect(result.reason).toMatchObject({ type: 'limit', limit: 'cost', max: 0.5 });
    expect(result.usage.costUsd).toBeGreaterThan(5);
  });

  it('counts the reader’s usage and cost in the run’s totals and on its event', async () => {
    const { runtime, store } = await world({ untrusted: quarantine(PRICE), limits: ROOMY });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('succeeded');
    expect(result.usage).toEqual(withSideCall(5.0122, true));
    const quarantined = await quarantinedEvent(store, result.id);
    expect(quarantined).toMatchObject({ usage: SIDE_USAGE, costUsd: expect.closeTo(5.01, 9) });
  });

  it('refuses a cost limit the unpriced reader would leave unenforced, at definition and at a run', async () => {
    await expect(
      world({ untrusted: quarantine(null), limits: { maxCostUsd: 0.5 } }),
    ).rejects.toThrow(
      '"limits.maxCostUsd" cannot hold: "untrusted.reader.model" ("simulator:simulator") has no known price',
    );
    const unpricedPlanner = simulator({ script: () => ({ text: '{"tools":[]}' }), price: null });
    await expect(
      world({ untrusted: { plan: { model: unpricedPlanner } }, limits: { maxCostUsd: 0.5 } }),
    ).rejects.toThrow('"untrusted.plan.model" ("simulator:simulator") has no known price');
    const { runtime } = await world({
      untrusted: quarantine(null),
      limits: { maxCostUsd: 'tokens-only' },
    });
    await expect(
      runtime.run('mail', 'What is my latest email about?', { limits: { maxCostUsd: 0.5 } }),
    ).rejects.toThrow('"untrusted.reader.model" ("simulator:simulator") has no known price');
  });

  it('leaves the run’s cost unknown when the reader has no price', async () => {
    const { runtime, store } = await world({
      untrusted: quarantine(null),
      limits: { maxTokens: 10_000_000, maxCostUsd: 'tokens-only' },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('succeeded');
    expect(result.usage).toEqual(withSideCall(0.0022, false));
    const quarantined = await quarantinedEvent(store, result.id);
    expect(quarantined).toMatchObject({ costUsd: null });
  });
});

describe('the planner’s spending', () => {
  it('stops the run on the token limit before the first step when the planner passes it', async () => {
    const { runtime, store } = await world({
      untrusted: { plan: { model: planner }, detector: false },
      limits: { maxTokens: 100_000, maxCostUsd: 0.5 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('stopped');
    expect(result.reason).toEqual({
      type: 'limit',
      limit: 'tokens',
      used: expect.any(Number) as number,
      max: 100_000,
    });
    expect(result.usage).toMatchObject(SIDE_USAGE);
    const journal = await events(store, result.id);
    expect(journal.filter((event) => event.type === 'model_called')).toEqual([]);
  });

  it('counts the planner’s tokens in the run’s totals', async () => {
    const { runtime } = await world({
      untrusted: { plan: { model: planner }, detector: false },
      limits: ROOMY,
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('succeeded');
    expect(result.usage).toMatchObject(withSideCall(0.0022 + 5.01, true));
  });

  it('stops the run on the cost limit when the planner’s cost passes it', async () => {
    const { runtime, store } = await world({
      untrusted: { plan: { model: planner }, detector: false },
      limits: { maxTokens: 10_000_000, maxCostUsd: 0.5 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.status).toBe('stopped');
    expect(result.reason).toMatchObject({ type: 'limit', limit: 'cost', max: 0.5 });
    const journal = await events(store, result.id);
    expect(journal.find((event) => event.type === 'intent_planned')).toMatchObject({
      usage: SIDE_USAGE,
      costUsd: expect.closeTo(5.01, 9) as number,
    });
  });
});

describe('a replay of a run the reader’s or the planner’s spending stopped', () => {
  it.each([
    ['reader', { untrusted: quarantine(PRICE) }],
    ['planner', { untrusted: { plan: { model: planner }, detector: false } }],
  ] as const)('stops the same way (%s)', async (_side, definition) => {
    const { runtime, store } = await world({
      ...definition,
      limits: { maxTokens: 10_000_000, maxCostUsd: 0.5 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(result.reason).toMatchObject({ type: 'limit', limit: 'cost' });
    const report = await replayRun({
      agent: runtime.agent('mail')!,
      runId: result.id,
      journal: await store.readEvents(result.id),
    });
    expect(report).toMatchObject({ identical: true, divergence: null });
  });
});

describe('a run journaled before the reader’s spending was counted', () => {
  it('replays identical, its totals as they were', async () => {
    const { runtime, store } = await world({ untrusted: quarantine(PRICE), limits: ROOMY });
    const result = await runtime.run('mail', 'What is my latest email about?');
    // The same run as it was journaled then: no cost on the reader's event, totals without it.
    const older = (await store.readEvents(result.id)).map((entry) => {
      const { event } = entry;
      if (event.type === 'tool_quarantined') {
        const { costUsd: _cost, attemptUsage: _each, ...rest } = event;
        return { ...entry, event: rest };
      }
      if (event.type === 'run_finished')
        return {
          ...entry,
          event: {
            ...event,
            usage: {
              ...event.usage,
              inputTokens: event.usage.inputTokens - SIDE_USAGE.inputTokens,
              outputTokens: event.usage.outputTokens - SIDE_USAGE.outputTokens,
              costUsd: (2 * 110 * 10) / 1_000_000,
            },
          },
        };
      return entry;
    });
    const report = await replayRun({
      agent: runtime.agent('mail')!,
      runId: result.id,
      journal: older,
    });
    expect(report).toMatchObject({ identical: true, divergence: null });
  });
});

describe('a reply whose usage is no count of tokens', () => {
  const negative = { inputTokens: -5_000_000, outputTokens: 1 };

  it('fails the call as malformed, from any adapter, and never lowers what the run spent', async () => {
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'odd',
      model: simulator({ script: () => ({ text: 'done', usage: negative }), price: PRICE }),
      instructions: 'Answer.',
      limits: { maxTokens: 1_000 },
    });
    const runtime = createRuntime({
      store,
      agents: [agent],
      modelRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    cleanups.push(
      () => store.close(),
      () => runtime.close(),
    );
    const result = await runtime.run('odd', 'Hi');
    const failed = (await events(store, result.id)).flatMap((event) =>
      event.type === 'model_failed' ? [event.errorType] : [],
    );
    expect([result.status, failed, result.usage.inputTokens]).toEqual([
      'failed',
      ['malformed_response', 'malformed_response'],
      0,
    ]);
  });

  it('fails the quarantined reader’s read, its count left out', async () => {
    const { runtime, store } = await world({
      untrusted: {
        handling: 'quarantine',
        detector: false,
        reader: {
          model: simulator({
            script: () => ({
              text: JSON.stringify({ summary: 'Lunch', facts: [], links: [], entities: [] }),
              usage: negative,
            }),
            price: PRICE,
          }),
        },
      },
      limits: ROOMY,
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    const quarantined = await quarantinedEvent(store, result.id);
    expect(quarantined).toMatchObject({ usage: { inputTokens: 0, outputTokens: 0 } });
    expect(result.usage.inputTokens).toBe(2 * MAIN_USAGE.inputTokens);
  });
});

describe('the reader held to the run’s budget before each call', () => {
  it('makes no further read once the reads of the step have spent the budget', async () => {
    let reads = 0;
    const countingReader = simulator({
      script: () => {
        reads += 1;
        return {
          text: JSON.stringify({ summary: 'Lunch', facts: [], links: [], entities: [] }),
          usage: SIDE_USAGE,
        };
      },
      price: PRICE,
    });
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'inbox',
      model: simulator({
        script: [
          {
            toolCalls: [0, 1, 2].map((index) => ({ name: 'read_email', args: { index } })),
            usage: MAIN_USAGE,
          },
          { text: 'done', usage: MAIN_USAGE },
        ],
        price: PRICE,
      }),
      instructions: 'You handle mail for the user.',
      tools: [
        defineTool({
          name: 'read_email',
          description: 'Read an email',
          input: z.object({ index: z.number() }),
          effect: 'read',
          untrustedOutput: true,
          // One after the other: each read starts once the one before has spent.
          run: ({ index }) =>
            new Promise((resolve) =>
              setTimeout(() => {
                resolve(`Email ${index}`);
              }, index * 40),
            ),
        }),
      ],
      untrusted: { handling: 'quarantine', detector: false, reader: { model: countingReader } },
      limits: { maxTokens: 10_000_000, maxCostUsd: 0.5 },
    });
    const runtime = createRuntime({ store, agents: [agent] });
    cleanups.push(
      () => store.close(),
      () => runtime.close(),
    );
    const result = await runtime.run('inbox', 'What came in?');
    const quarantined = (await events(store, result.id)).flatMap((event) =>
      event.type === 'tool_quarantined' ? [event.error ?? 'read'] : [],
    );
    expect({ reads, status: result.status, reason: result.reason?.type }).toEqual({
      reads: 1,
      status: 'stopped',
      reason: 'limit',
    });
    expect(quarantined.filter((outcome) => outcome === 'read')).toHaveLength(1);
    expect(quarantined.filter((outcome) => outcome.includes('leaves no room'))).toHaveLength(2);
  });
});

describe('a replay of a read whose retry fit the budget', () => {
  it('serves each attempt its own usage, so the budget decides each attempt as the run did', async () => {
    let calls = 0;
    const retrying = simulator({
      script: () => {
        calls += 1;
        return calls % 2 === 1
          ? { text: 'not json', usage: SIDE_USAGE }
          : {
              text: JSON.stringify({ summary: 'Lunch', facts: [], links: [], entities: [] }),
              usage: SIDE_USAGE,
            };
      },
      price: PRICE,
    });
    // Room for the second attempt after the first ($5.01), not for both at once ($10.02).
    const { runtime, store } = await world({
      untrusted: {
        handling: 'quarantine',
        detector: false,
        reader: { model: retrying, retries: 1 },
      },
      limits: { maxTokens: 10_000_000, maxCostUsd: 8 },
    });
    const result = await runtime.run('mail', 'What is my latest email about?');
    expect(await quarantinedEvent(store, result.id)).toMatchObject({
      outputs: ['not json', expect.any(String) as string],
      attemptUsage: [SIDE_USAGE, SIDE_USAGE],
    });
    const report = await replayRun({
      agent: runtime.agent('mail')!,
      runId: result.id,
      journal: await store.readEvents(result.id),
    });
    expect(report).toMatchObject({ identical: true, divergence: null });
  });
});
