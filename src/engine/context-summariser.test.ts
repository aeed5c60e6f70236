import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent, type AgentDefinition } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import {
  defineModelTiers,
  simulator,
  type ModelRequest,
  type ScriptContext,
  type SimulatedTurn,
} from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import {
  FACT,
  FACT_PAGE,
  TASK,
  lastPage,
  pageText,
  recording,
} from '../../test/support/archive.js';
import { createRuntime, replayRun, type Runtime } from './index.js';

/*
 * The managed context's summariser (a fast-tier model call, or your own function) and its
 * recall tool, through the engine: journaled, counted, labelled, served back on replay.
 */

const PAGES = 40;

function fetchPage(untrusted: boolean) {
  return defineTool({
    name: 'fetch_page',
    description: 'Fetch one page of the archive.',
    input: z.object({ page: z.number().int() }),
    effect: 'read',
    untrustedOutput: untrusted,
    run: ({ page }) => Promise.resolve(pageText(page)),
  });
}

/** The agent's script: one page per step, then a final answer. */
function reader(context: ScriptContext): SimulatedTurn {
  const page = lastPage(context);
  return page + 1 >= PAGES
    ? { text: `Read ${PAGES} pages.` }
    : { toolCalls: [{ name: 'fetch_page', args: { page: page + 1 } }] };
}

/** A fast model that summarises a step by the page it read. */
function summariserScript(context: ScriptContext): SimulatedTurn {
  const text = context.request.messages
    .flatMap((message) => message.parts)
    .map((part) => (part.type === 'text' ? part.text : ''))
    .join('\n');
  const page = /Archive page (\d+)\./.exec(text)?.[1] ?? '?';
  return { text: `Fast summary: archive page ${page} read, shipments listed.` };
}

const LIMITS = {
  maxIterations: 400,
  maxTokens: 100_000_000,
  maxCostUsd: 1_000,
  timeoutMs: 600_000,
} as const;

let runtime: Runtime | undefined;
let store: Store | undefined;
afterEach(async () => {
  await runtime?.close();
  await store?.close();
  runtime = undefined;
  store = undefined;
});

async function run(
  agent: Agent,
  task = TASK,
): Promise<{ events: RunEvent[]; status: string; id: string; output: string | null }> {
  store = await openStore('sqlite::memory:');
  runtime = createRuntime({ store, agents: [agent], modelRetry: { initialDelayMs: 0 } });
  const result = await runtime.run(agent.name, task);
  const events = (await store.readEvents(result.id)).map((entry) => entry.event);
  return { events, status: result.status, id: result.id, output: result.output };
}

type Summarised = Extract<RunEvent, { type: 'step_summarised' }>;
const summarisedIn = (events: readonly RunEvent[]): Summarised[] =>
  events.filter((event): event is Summarised => event.type === 'step_summarised');

function archivist(overrides: Partial<AgentDefinition> & Pick<AgentDefinition, 'model'>): Agent {
  return defineAgent({
    name: 'archivist',
    instructions: 'You read archives.',
    tools: [fetchPage(true)],
    limits: LIMITS,
    ...overrides,
    context: { windowTokens: 16_000, windowSteps: 5, ...overrides.context },
  });
}

describe('model summaries from the fast tier', () => {
  it('summarises steps leaving the window with journaled, counted, untrusted model calls; replay calls nothing', async () => {
    const fast = recording(simulator({ script: summariserScript, modelId: 'fast-sim' }));
    const tiers = defineModelTiers({
      fast: [fast.model],
      frontier: [simulator({ script: reader })],
    });
    const main = recording(tiers.model('frontier'));
    const agent = archivist({
      model: main.model,
      context: { summariserModel: tiers.model('fast') },
    });
    expect(agent.context?.summariser.kind).toBe('model');
    const { events, status, id } = await run(agent);
    expect(status).toBe('succeeded');

    const summarised = summarisedIn(events);
    expect(summarised.length).toBeGreaterThan(10);
    expect(fast.requests).toHaveLength(summarised.length);
    for (const event of summarised) {
      expect(event).toMatchObject({
        by: 'model',
        model: 'simulator:fast-sim',
        provenance: { trust: 'untrusted', source: 'summary' },
      });
      expect(event.text).toContain(`archive page ${event.summarisedStep} read`);
      expect(event.usage?.inputTokens).toBeGreaterThan(0);
      expect(event.costUsd).toBeGreaterThan(0);
      // Journaled before the call whose context needed it.
      const assembledAt = events.findIndex(
        (other) => other.type === 'context_assembled' && other.step === event.step,
      );
      expect(events.indexOf(event)).toBeLessThan(assembledAt);
    }
    // Each step is summarised once.
    const steps = summarised.map((event) => event.summarisedStep);
    expect(new Set(steps).size).toBe(steps.length);
    // The step's untrusted content went to the summariser under its own label.
    expect(fast.requests[0]?.messages[0]?.parts[0]?.provenance.trust).toBe('untrusted');

    // The model sees the fast summaries, labelled untrusted, never in the pinned section.
    const last = main.requests.at(-1) as ModelRequest;
    const summaryParts = last.messages
      .flatMap((message) => message.parts)
      .filter((part) => part.type === 'text' && part.text.includes('Fast summary'));
    expect(summaryParts.length).toBeGreaterThan(0);
    expect(new Set(summaryParts.map((part) => part.provenance.trust))).toEqual(
      new Set(['untrusted']),
    );
    for (const request of main.requests) {
      expect(request.system).not.toContain('Fast summary');
      expect(request.messages[0]?.parts[0]).toMatchObject({ text: TASK });
    }

    // The summariser's tokens and cost count in the run's totals.
    const finished = events.at(-1) as Extract<RunEvent, { type: 'run_finished' }>;
    const sum = (key: 'inputTokens' | 'outputTokens') =>
      events.reduce(
        (total, event) =>
          total +
          (event.type === 'model_called' ? event.usage[key] : 0) +
          (event.type === 'step_summarised' ? (event.usage?.[key] ?? 0) : 0),
        0,
      );
    expect(finished.usage.inputTokens).toBe(sum('inputTokens'));
    expect(finished.usage.outputTokens).toBe(sum('outputTokens'));
    const summaryCost = summarised.reduce((total, event) => total + (event.costUsd ?? 0), 0);
    const modelCost = events.reduce(
      (total, event) => total + (event.type === 'model_called' ? (event.costUsd ?? 0) : 0),
      0,
    );
    expect(finished.usage.costUsd).toBeCloseTo(modelCost + summaryCost, 10);

    // Replay serves the summaries from the journal: the fast model is not called again.
    const calls = fast.requests.length;
    const journal = await (store as Store).readEvents(id);
    const report = await replayRun({ agent, runId: id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
    expect(fast.requests).toHaveLength(calls);
  }, 60_000);

  it('stops the run on its token limit when summariser calls push it over (and not without them)', async () => {
    const build = (maxTokens: number, summarise: boolean) =>
      archivist({
        model: simulator({ script: reader }),
        limits: { ...LIMITS, maxTokens },
        context: summarise
          ? { summariserModel: simulator({ script: summariserScript }) }
          : { summariser: 'deterministic' },
      });
    const plain = await run(build(LIMITS.maxTokens, false));
    expect(plain.status).toBe('succeeded');
    const plainUsage = (plain.events.at(-1) as Extract<RunEvent, { type: 'run_finished' }>).usage;
    await runtime?.close();
    await store?.close();
    const limit = plainUsage.inputTokens + plainUsage.outputTokens + 1_000;
    // Allowed: the same limit, deterministic summaries, the run completes.
    const allowed = await run(build(limit, false));
    expect(allowed.status).toBe('succeeded');
    await runtime?.close();
    await store?.close();
    // Denied: model summaries spend tokens too, so the same limit stops the run.
    const denied = await run(build(limit, true));
    expect(denied.status).toBe('stopped');
    expect(denied.events.at(-1)).toMatchObject({
      type: 'run_finished',
      reason: { type: 'limit', limit: 'tokens' },
    });
    expect(summarisedIn(denied.events).length).toBeGreaterThan(0);
  }, 60_000);

  it('falls back to the deterministic summary, journaled and typed, when the summariser fails', async () => {
    const failing = simulator({
      script: [{ failFirst: { type: 'server_error', times: 1_000, statusCode: 503 } }],
      modelId: 'fast-down',
    });
    const agent = archivist({
      model: simulator({ script: reader }),
      context: { summariser: 'model', summariserModel: failing },
    });
    const { events, status, id } = await run(agent);
    expect(status).toBe('succeeded');
    const summarised = summarisedIn(events);
    expect(summarised.length).toBeGreaterThan(0);
    for (const event of summarised) {
      expect(event).toMatchObject({
        by: 'deterministic',
        fallback: { errorType: 'server_error' },
        provenance: { trust: 'untrusted', source: 'summary' },
      });
      expect(event.text).toMatch(new RegExp(`^step ${event.summarisedStep}: called fetch_page`));
    }
    const journal = await (store as Store).readEvents(id);
    const report = await replayRun({ agent, runId: id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
  }, 60_000);
});

describe('a fast tier with a fallback', () => {
  it("summarises with the tier's next model when its first is down", async () => {
    const tiers = defineModelTiers({
      fast: [
        simulator({
          script: [{ failFirst: { type: 'overloaded', times: 1_000, statusCode: 529 } }],
          modelId: 'fast-down',
        }),
        simulator({ script: summariserScript, modelId: 'fast-backup' }),
      ],
    });
    const agent = archivist({
      model: simulator({ script: reader }),
      context: { summariserModel: tiers.model('fast') },
    });
    const { events, status } = await run(agent);
    expect(status).toBe('succeeded');
    const summarised = summarisedIn(events);
    expect(summarised.length).toBeGreaterThan(0);
    for (const event of summarised) {
      expect(event).toMatchObject({ by: 'model', model: 'simulator:fast-backup' });
      expect(event.fallback).toBeUndefined();
    }
  }, 60_000);
});

describe('custom summarisers', () => {
  it('keeps a summary of trusted steps trusted and of untrusted steps untrusted', async () => {
    const custom = ({ step }: { step: number }) => `custom summary of step ${step}`;
    const labels = async (untrusted: boolean) => {
      const agent = archivist({
        model: simulator({ script: reader }),
        tools: [fetchPage(untrusted)],
        context: { summariser: custom },
      });
      const { events, status } = await run(agent);
      expect(status).toBe('succeeded');
      await runtime?.close();
      await store?.close();
      const summarised = summarisedIn(events);
      expect(summarised.length).toBeGreaterThan(0);
      expect(summarised.every((event) => event.by === 'custom' && event.usage === undefined)).toBe(
        true,
      );
      return new Set(summarised.map((event) => event.provenance.trust));
    };
    expect(await labels(false)).toEqual(new Set(['trusted']));
    expect(await labels(true)).toEqual(new Set(['untrusted']));
  }, 60_000);

  it('falls back when a custom summariser throws', async () => {
    const agent = archivist({
      model: simulator({ script: reader }),
      context: {
        summariser: () => {
          throw new Error('summary service down');
        },
      },
    });
    const { events, status } = await run(agent);
    expect(status).toBe('succeeded');
    expect(summarisedIn(events)[0]).toMatchObject({
      by: 'deterministic',
      fallback: { errorType: 'summariser_error', message: 'summary service down' },
    });
  }, 60_000);
});

describe('defineAgent summariser options', () => {
  it("uses the agent's own model for 'model' summaries when it is fast-tier", () => {
    const tiers = defineModelTiers({ fast: [simulator({ script: [] })] });
    const agent = defineAgent({
      name: 'reader',
      model: tiers.model('fast'),
      instructions: 'Read.',
      context: { summariser: 'model' },
    });
    expect(agent.context?.summariser).toMatchObject({ kind: 'model', model: agent.model });
  });

  it("rejects 'model' summaries with no fast-tier model, naming the field", () => {
    expect(() =>
      defineAgent({
        name: 'reader',
        model: simulator({ script: [] }),
        instructions: 'Read.',
        context: { summariser: 'model' },
      }),
    ).toThrow(/"context\.summariserModel"/);
  });
});

describe('the recall tool', () => {
  /** Reads pages, then asks recall for the fact, then answers with what came back. */
  function recaller(context: ScriptContext): SimulatedTurn {
    const result = context.lastToolResults.at(-1);
    if (result?.toolName === 'recall') {
      const code = /vault code is (\d+)/.exec(result.content)?.[1] ?? 'unknown';
      return { text: `The code is ${code}.` };
    }
    const page = lastPage(context);
    if (page + 1 >= PAGES) {
      return { toolCalls: [{ name: 'recall', args: { query: 'Zephyr vault code' } }] };
    }
    return { toolCalls: [{ name: 'fetch_page', args: { page: page + 1 } }] };
  }

  it('gives the model the step-12 fact from the store, still labelled untrusted', async () => {
    const agent = archivist({
      model: simulator({ script: recaller }),
      context: { recallTool: true },
    });
    expect(agent.tool('recall')?.effect).toBe('read');
    const { events, status, output, id } = await run(agent);
    expect(status).toBe('succeeded');
    expect(output).toBe('The code is 7431.');
    const recalled = events.find(
      (event): event is Extract<RunEvent, { type: 'tool_finished' }> =>
        event.type === 'tool_finished' && event.toolName === 'recall',
    );
    expect(recalled?.provenance).toEqual({ trust: 'untrusted', source: 'tool:recall' });
    const body = JSON.parse(recalled?.content ?? '{}') as {
      results: { ref: string; trust: string; source: string; content: string }[];
    };
    expect(body.results[0]).toMatchObject({
      ref: expect.stringMatching(new RegExp(`^result:${FACT_PAGE}:`)) as string,
      trust: 'untrusted',
      source: 'tool:fetch_page',
    });
    expect(body.results[0]?.content).toContain(FACT);

    const journal = await (store as Store).readEvents(id);
    const report = await replayRun({ agent, runId: id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
  }, 60_000);

  it('labels a recall of trusted results trusted', async () => {
    const agent = archivist({
      model: simulator({ script: recaller }),
      tools: [fetchPage(false)],
      context: { recallTool: true },
    });
    const { events, status, output } = await run(agent);
    expect(status).toBe('succeeded');
    expect(output).toBe('The code is 7431.');
    const recalled = events.find(
      (event) => event.type === 'tool_finished' && event.toolName === 'recall',
    );
    expect(recalled).toMatchObject({ provenance: { trust: 'trusted', source: 'tool:recall' } });
  }, 60_000);

  it('is offered only when enabled, and refuses a tool already named recall', () => {
    const plain = archivist({ model: simulator({ script: [] }) });
    expect(plain.tool('recall')).toBeUndefined();
    const own = defineTool({
      name: 'recall',
      description: 'Mine.',
      input: z.object({}),
      effect: 'read',
      run: () => Promise.resolve('x'),
    });
    expect(() =>
      archivist({
        model: simulator({ script: [] }),
        tools: [fetchPage(true), own],
        context: { recallTool: true },
      }),
    ).toThrow(/"context\.recallTool"/);
  });
});
