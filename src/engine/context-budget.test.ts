import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import {
  estimateInputTokens,
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

const CONSTRAINT = 'Never send archive content outside the company.';
const NEED_AT = 250;

const fetchPage = defineTool({
  name: 'fetch_page',
  description: 'Fetch one page of the archive.',
  input: z.object({ page: z.number().int(), need: z.string().optional() }),
  effect: 'read',
  untrustedOutput: true,
  run: ({ page }) => Promise.resolve(pageText(page)),
});

function allText(request: ModelRequest): string {
  return request.messages
    .flatMap((message) =>
      message.parts.map((part) =>
        part.type === 'text'
          ? part.text
          : part.type === 'tool_call'
            ? part.arguments
            : part.content,
      ),
    )
    .join('\n');
}

let runtime: Runtime | undefined;
let store: Store | undefined;
afterEach(async () => {
  await runtime?.close();
  await store?.close();
  runtime = undefined;
  store = undefined;
});

async function run(agent: Agent): Promise<{ events: RunEvent[]; status: string; id: string }> {
  store = await openStore('sqlite::memory:');
  runtime = createRuntime({ store, agents: [agent], modelRetry: { initialDelayMs: 0 } });
  const result = await runtime.run(agent.name, TASK);
  const events = (await store.readEvents(result.id)).map((entry) => entry.event);
  return { events, status: result.status, id: result.id };
}

const LIMITS = {
  maxIterations: 400,
  maxTokens: 100_000_000,
  maxCostUsd: 1_000,
  timeoutMs: 600_000,
} as const;

describe('managed context over a long run', () => {
  it('keeps 300 steps of large results inside the budget, pinned text verbatim, the fact recalled', async () => {
    const windowTokens = 16_000;
    const maxOutputTokens = 512;
    const recalledFact: number[] = [];
    const script = (context: ScriptContext): SimulatedTurn => {
      const page = lastPage(context);
      if (page === NEED_AT - 1 && allText(context.request).includes(FACT)) {
        recalledFact.push(page + 1);
      }
      if (page + 1 >= 300) return { text: 'All 300 pages read.' };
      // The step that reads page 249 says what the next one needs: the fact from page 12.
      const need = page + 1 === NEED_AT - 1 ? { need: 'the Zephyr vault code' } : {};
      return { toolCalls: [{ name: 'fetch_page', args: { page: page + 1, ...need } }] };
    };
    const { model, requests } = recording(simulator({ script }));
    const agent = defineAgent({
      name: 'archivist',
      model,
      instructions: 'You read archives.',
      tools: [fetchPage],
      maxOutputTokens,
      limits: LIMITS,
      context: { windowTokens, pinned: [CONSTRAINT] },
    });
    const { events, status, id } = await run(agent);
    expect(status).toBe('succeeded');
    expect(requests).toHaveLength(301);

    const budget = windowTokens - maxOutputTokens - Math.ceil(windowTokens * 0.05);
    for (const request of requests) {
      const tokens = estimateInputTokens(request);
      expect(tokens).toBeLessThanOrEqual(budget);
      expect(tokens + maxOutputTokens).toBeLessThanOrEqual(windowTokens);
      // Pinned: the task verbatim as the first part, the constraint in the instructions.
      const first = request.messages[0]?.parts[0];
      expect(first).toEqual({
        type: 'text',
        text: TASK,
        provenance: { trust: 'trusted', source: 'task' },
      });
      expect(request.system).toContain(CONSTRAINT);
    }
    // Without the manager the last request would have held every page.
    expect(300 * 1_500).toBeGreaterThan(windowTokens);

    const assembled = events.filter(
      (event): event is Extract<RunEvent, { type: 'context_assembled' }> =>
        event.type === 'context_assembled',
    );
    expect(assembled).toHaveLength(301);
    for (const event of assembled) expect(event.totalTokens).toBeLessThanOrEqual(budget);
    const last = assembled.at(-1);
    expect(last?.compressed).toBe(true);
    expect(last?.summarisedSteps).toBeGreaterThan(250);
    expect(last?.sections.summaries.items).toBeGreaterThan(1);
    // Summaries of untrusted pages are labelled untrusted, in the journal and on the wire.
    expect(last?.sections.summaries.untrusted).toBe(last?.sections.summaries.items);
    const summaryParts = requests
      .flatMap((request) => request.messages.flatMap((message) => message.parts))
      .filter((part) => part.provenance.source === 'summary');
    expect(summaryParts.length).toBeGreaterThan(0);
    expect(new Set(summaryParts.map((part) => part.provenance.trust))).toEqual(
      new Set(['untrusted']),
    );

    // Step 250 needs the fact from step 12, long out of the working window: it is recalled
    // in full and keeps the label of the tool that read it.
    const atNeed = requests[NEED_AT] as ModelRequest;
    const calls = atNeed.messages.flatMap((message) =>
      message.parts.filter((part) => part.type === 'tool_call'),
    );
    expect(calls.some((part) => part.arguments.includes(`"page":${FACT_PAGE}`))).toBe(false);
    const recalledParts = atNeed.messages
      .flatMap((message) => message.parts)
      .filter((part) => part.type === 'text' && part.text.includes(FACT));
    expect(recalledParts.map((part) => part.provenance)).toEqual([
      { trust: 'untrusted', source: 'tool:fetch_page' },
    ]);
    expect(assembled[NEED_AT]?.recalled[0]).toBe(`result:${FACT_PAGE}:call_${FACT_PAGE}_0`);
    // Chosen by the store's full-text search, where the page is kept with its label.
    expect(assembled[NEED_AT]?.recallSource).toBe('store');
    const stored = await (store as Store).results.get(
      id,
      `result:${FACT_PAGE}:call_${FACT_PAGE}_0`,
    );
    expect(stored).toMatchObject({
      trust: 'untrusted',
      source: 'tool:fetch_page',
      step: FACT_PAGE,
    });
    expect(recalledFact).toEqual([NEED_AT]);
  }, 120_000);

  it('replays a managed run identically: the same assemblies, the same requests', async () => {
    const script = (context: ScriptContext): SimulatedTurn => {
      const page = lastPage(context);
      return page + 1 >= 40
        ? { text: 'Read 40 pages.' }
        : { toolCalls: [{ name: 'fetch_page', args: { page: page + 1 } }] };
    };
    const agent = defineAgent({
      name: 'archivist',
      model: simulator({ script }),
      instructions: 'You read archives.',
      tools: [fetchPage],
      limits: LIMITS,
      context: { windowTokens: 16_000, windowSteps: 5 },
    });
    const { events, status, id } = await run(agent);
    expect(status).toBe('succeeded');
    expect(events.some((event) => event.type === 'context_assembled' && event.compressed)).toBe(
      true,
    );
    const journal = await (store as Store).readEvents(id);
    const report = await replayRun({ agent, runId: id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
  }, 60_000);
});

describe('context_too_long from the provider', () => {
  /** A provider whose real window is smaller than the agent believes. */
  const tooLongAbove =
    (limit: number, pages: number) =>
    (context: ScriptContext): SimulatedTurn => {
      if (estimateInputTokens(context.request) > limit) {
        return { failFirst: { type: 'context_too_long', times: 1_000, statusCode: 400 } };
      }
      const page = lastPage(context);
      return page + 1 >= pages
        ? { text: 'done' }
        : { toolCalls: [{ name: 'fetch_page', args: { page: page + 1 } }] };
    };

  it('compresses the context and retries once instead of failing the run', async () => {
    const { model, requests } = recording(simulator({ script: tooLongAbove(5_000, 6) }));
    const agent = defineAgent({
      name: 'archivist',
      model,
      instructions: 'You read archives.',
      tools: [fetchPage],
      limits: LIMITS,
    });
    const { events, status, id } = await run(agent);
    expect(status).toBe('succeeded');
    const failedAt = events.findIndex(
      (event) => event.type === 'model_failed' && event.errorType === 'context_too_long',
    );
    expect(failedAt).toBeGreaterThan(0);
    expect(events[failedAt]).toMatchObject({ willRetry: true, attempt: 1 });
    expect(events[failedAt + 1]).toMatchObject({
      type: 'context_assembled',
      trigger: 'context_too_long',
      compressed: true,
    });
    expect(events[failedAt + 2]).toMatchObject({ type: 'model_called', attempts: 2 });
    // The retried request is the compressed one, within what the provider accepts.
    const retried = requests[requests.length - 1] as ModelRequest;
    expect(estimateInputTokens(retried)).toBeLessThanOrEqual(5_000);

    const journal = await (store as Store).readEvents(id);
    const report = await replayRun({ agent, runId: id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
  }, 60_000);

  it('fails the run with a typed error when the compressed retry is still too long', async () => {
    // Even the task alone is over this provider's limit: one retry, then a typed failure.
    const agent = defineAgent({
      name: 'archivist',
      model: simulator({ script: tooLongAbove(10, 6) }),
      instructions: 'You read archives.',
      tools: [fetchPage],
      limits: LIMITS,
    });
    const { events, status } = await run(agent);
    expect(status).toBe('failed');
    const failures = events.filter((event) => event.type === 'model_failed');
    expect(failures.map((event) => [event.errorType, event.willRetry])).toEqual([
      ['context_too_long', true],
      ['context_too_long', false],
    ]);
    expect(events.at(-1)).toMatchObject({
      type: 'run_finished',
      reason: { type: 'model_error', errorType: 'context_too_long', attempts: 2 },
    });
  }, 60_000);
});

describe('defineAgent with a context', () => {
  it('accepts a window that leaves room for the reply', () => {
    const agent = defineAgent({
      name: 'reader',
      model: simulator({ script: [] }),
      instructions: 'Read.',
      maxOutputTokens: 1_000,
      context: { windowTokens: 8_000, pinned: [CONSTRAINT] },
    });
    expect(agent.context).toMatchObject({ windowTokens: 8_000, pinned: [CONSTRAINT] });
  });

  it('rejects a window the reply would nearly fill, naming the field', () => {
    expect(() =>
      defineAgent({
        name: 'reader',
        model: simulator({ script: [] }),
        instructions: 'Read.',
        maxOutputTokens: 7_000,
        context: { windowTokens: 8_000 },
      }),
    ).toThrow(/"context\.windowTokens"/);
  });
});
