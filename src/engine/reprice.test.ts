import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { DEFAULT_LIMITS, type RunEvent } from '../journal/index.js';
import { TRUSTED_AGENT, TRUSTED_TASK } from '../core/index.js';
import { createPriceTable, parsePriceOverrides, simulator } from '../model/index.js';
import type { Store } from '../store/index.js';
import { createRuntime, repriceJournal, repriceRuns } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

const TARGETS = storeTargets('keel_p_');

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

// One model call of 1000 input (400 of them cache reads) and 100 output tokens.
const USAGE = { inputTokens: 1000, outputTokens: 100, cacheReadTokens: 400 };

async function storeWithRun(open: () => Promise<{ store: Store; dispose(): Promise<void> }>) {
  const { store, dispose } = await open();
  disposers.push(dispose);
  const agent = defineAgent({
    name: 'pricing',
    model: simulator({
      modelId: 'my-finetune-v1',
      script: [{ text: 'done', usage: USAGE }],
    }),
    instructions: 'Help.',
  });
  const runtime = createRuntime({ store, agents: [agent] });
  disposers.push(() => runtime.close());
  const result = await runtime.run('pricing', 'Price me.');
  return { store, runId: result.id };
}

for (const target of TARGETS) {
  describe(`repriceRuns (${target.name})`, () => {
    it('re-prices a run from its recorded usage with an override, and saves the new cost', async () => {
      const { store, runId } = await storeWithRun(() => target.open());
      const prices = createPriceTable({
        overrides: parsePriceOverrides({
          models: [
            {
              match: 'my-finetune-*',
              provider: 'simulator',
              inputPerMillion: 10,
              outputPerMillion: 20,
              cacheReadPerMillion: 1,
            },
          ],
        }),
      });
      const [repriced] = await repriceRuns({
        store,
        prices,
        runIds: [runId],
        clock: { now: () => 42 },
      });
      // 600*10 + 400*1 + 100*20 = 8400 per call.
      expect({ ...repriced, costUsd: Math.round((repriced?.costUsd ?? 0) * 1e9) / 1e9 }).toEqual({
        runId,
        agent: 'pricing',
        recordedUsd: expect.any(Number),
        costUsd: 0.0084,
        pricedCalls: 1,
        unpricedCalls: 0,
        unknownModels: [],
      });
      const saved = await store.prices.get(runId);
      expect({ ...saved, costUsd: Math.round((saved?.costUsd ?? 0) * 1e9) / 1e9 }).toEqual({
        runId,
        costUsd: 0.0084,
        pricedCalls: 1,
        unpricedCalls: 0,
        pricedAt: 42,
      });
    });

    it('saves nothing on a dry run', async () => {
      const { store, runId } = await storeWithRun(() => target.open());
      const dry = await repriceRuns({
        store,
        prices: createPriceTable(),
        runIds: [runId],
        save: false,
      });
      expect([dry[0]?.pricedCalls, await store.prices.get(runId)]).toEqual([1, undefined]);
    });
  });
}

describe('repriceJournal', () => {
  function journal(model: { provider: string; modelId: string }, served?: string): RunEvent[] {
    return [
      {
        type: 'run_started',
        agent: 'a',
        task: 't',
        taskProvenance: TRUSTED_TASK,
        model,
        limits: DEFAULT_LIMITS,
        startedAt: 0,
      },
      {
        type: 'model_called',
        step: 0,
        content: [{ type: 'text', text: 'x' }],
        finishReason: 'stop',
        usage: { inputTokens: 10_000, outputTokens: 1000, cacheReadTokens: 4000 },
        costUsd: 0,
        estimatedInputTokens: 9000,
        latencyMs: 1,
        attempts: 1,
        provenance: TRUSTED_AGENT,
        ...(served === undefined ? {} : { model: served }),
      },
    ];
  }

  it('gives cost null, never 0, when the model has no price, naming the model', () => {
    expect(
      repriceJournal(
        'r',
        journal({ provider: 'openai', modelId: 'no-such-model' }),
        createPriceTable(),
      ),
    ).toEqual({
      runId: 'r',
      agent: 'a',
      recordedUsd: 0,
      costUsd: null,
      pricedCalls: 0,
      unpricedCalls: 1,
      unknownModels: ['openai:no-such-model'],
    });
  });

  it('prices the call at the model that served it, a fallback included', () => {
    // gpt-4o: 6000*2.5 + 4000*1.25 + 1000*10 = 30000 / 1e6
    const repriced = repriceJournal(
      'r',
      journal({ provider: 'anthropic', modelId: 'no-such-claude' }, 'openai:gpt-4o'),
      createPriceTable(),
    );
    expect(Math.round((repriced.costUsd ?? -1) * 1e9) / 1e9).toBe(0.03);
  });
});
