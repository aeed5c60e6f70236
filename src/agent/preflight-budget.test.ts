import { describe, expect, it } from 'vitest';
import { TRUSTED_TASK } from '../core/index.js';
import {
  anthropicMessages,
  conservativeTokenCount,
  costOf,
  countRequestTokens,
  openaiChat,
  roughRequestTokens,
  type ModelAdapterV1,
} from '../model/index.js';
import { buildRequest, defineAgent, nextAction } from './index.js';
import { DEFAULT_LIMITS, foldRun, type RunEvent, type RunLimits } from '../journal/index.js';

const START = 1_700_000_000_000;
const TASK = 'Summarise the refund policy for order A-1 in two sentences, citing the clause.';
const GPT_4O_PRICE = { inputPerMillion: 2.5, outputPerMillion: 10, cacheReadPerMillion: 1.25 };

function agentOn(model: ModelAdapterV1) {
  return defineAgent({
    name: 'policy',
    model,
    instructions: 'You explain refund policy. Quote clauses exactly.',
    maxOutputTokens: 200,
  });
}

/** A run that already spent 1,000 input and 100 output tokens on one model call. */
function stateWith(limits: Partial<RunLimits>) {
  const events: RunEvent[] = [
    {
      type: 'run_started',
      agent: 'policy',
      task: TASK,
      taskProvenance: TRUSTED_TASK,
      model: { provider: 'openai', modelId: 'gpt-4o' },
      limits: { ...DEFAULT_LIMITS, ...limits },
      startedAt: START,
    },
  ];
  const spent = foldRun(events);
  return {
    ...spent,
    usage: { inputTokens: 1000, outputTokens: 100, costUsd: 0.0035, costKnown: true },
  };
}

describe('pre-flight budget check on provider token counts', () => {
  const openai = agentOn(openaiChat({ model: 'gpt-4o', apiKey: 'k', price: GPT_4O_PRICE }));
  const anthropic = agentOn(anthropicMessages({ model: 'claude-test', apiKey: 'k' }));

  it('allows the call that fits the remaining tokens exactly, counted with gpt-tokenizer', () => {
    const request = buildRequest(openai, stateWith({}));
    const input = countRequestTokens(request, 'o200k_base').tokens;
    const needed = 1100 + input + 200;
    const action = nextAction(openai, stateWith({ maxTokens: needed }), START);
    expect(action).toEqual({ type: 'call_model', request, estimatedInputTokens: input });
  });

  it('refuses the call that would exceed the remaining tokens by one', () => {
    const request = buildRequest(openai, stateWith({}));
    const needed = 1100 + countRequestTokens(request, 'o200k_base').tokens + 200;
    expect(nextAction(openai, stateWith({ maxTokens: needed - 1 }), START)).toEqual({
      type: 'stop',
      limit: 'tokens',
      used: needed,
      max: needed - 1,
    });
  });

  it('refuses on the conservative estimate where no tokenizer is local (Anthropic)', () => {
    const request = buildRequest(anthropic, stateWith({}));
    const needed = 1100 + conservativeTokenCount(request).tokens + 200;
    expect([
      nextAction(anthropic, stateWith({ maxTokens: needed }), START).type,
      nextAction(anthropic, stateWith({ maxTokens: needed - 1 }), START).type,
    ]).toEqual(['call_model', 'stop']);
  });

  it('refuses the call whose estimated cost would exceed the remaining cost budget', () => {
    const request = buildRequest(openai, stateWith({}));
    const input = countRequestTokens(request, 'o200k_base').tokens;
    const estimated = costOf({ inputTokens: input, outputTokens: 200 }, GPT_4O_PRICE) ?? 0;
    const total = 0.0035 + estimated;
    expect(nextAction(openai, stateWith({ maxCostUsd: total + 1e-9 }), START).type).toBe(
      'call_model',
    );
    expect(nextAction(openai, stateWith({ maxCostUsd: total - 1e-6 }), START)).toEqual({
      type: 'stop',
      limit: 'cost',
      used: total,
      max: total - 1e-6,
    });
  });
});

describe('pre-flight: the exact count only near the budget', () => {
  function countingModel() {
    const calls = { exact: 0 };
    const base = openaiChat({ model: 'gpt-4o', apiKey: 'k', price: GPT_4O_PRICE });
    const model: ModelAdapterV1 = {
      ...base,
      estimateInputTokens: (request) => {
        calls.exact += 1;
        return countRequestTokens(request, 'o200k_base').tokens;
      },
    };
    return { model, calls };
  }

  it('far from the budget: the cheap estimate, the tokenizer never asked', () => {
    const { model, calls } = countingModel();
    const agent = agentOn(model);
    const request = buildRequest(agent, stateWith({}));
    const action = nextAction(agent, stateWith({}), START);
    expect(calls.exact).toBe(0);
    expect(action).toEqual({
      type: 'call_model',
      request,
      estimatedInputTokens: roughRequestTokens(request).estimate,
    });
  });

  it('near the budget (the bound does not fit): the exact count decides', () => {
    const { model, calls } = countingModel();
    const agent = agentOn(model);
    const request = buildRequest(agent, stateWith({}));
    const exact = countRequestTokens(request, 'o200k_base').tokens;
    const { atMost } = roughRequestTokens(request);
    // Room for the exact request, not for its bound.
    const limits = { maxTokens: 1100 + exact + 200 + Math.floor((atMost - exact) / 2) };
    const action = nextAction(agent, stateWith(limits), START);
    expect(calls.exact).toBe(1);
    expect(action).toMatchObject({ type: 'call_model', estimatedInputTokens: exact });
  });

  it('the bound is never below the exact count, whatever the script', () => {
    const texts = [
      'plain English text about refunds and orders',
      '数字化转型需要长期投入与耐心',
      '🙂🚀🔥 emoji 😀😃😄',
      '0123456789'.repeat(20),
      '  \n\t  '.repeat(30),
      '<|endoftext|> ünïcödé ✓ ∑∫√',
    ];
    for (const text of texts) {
      const request = {
        system: text,
        messages: [
          {
            role: 'user' as const,
            parts: [{ type: 'text' as const, text, provenance: TRUSTED_TASK }],
          },
        ],
        tools: [{ name: 'lookup', description: text, inputSchema: { type: 'object' } }],
      };
      const exact = countRequestTokens(request, 'o200k_base').tokens;
      expect(roughRequestTokens(request).atMost).toBeGreaterThanOrEqual(exact);
    }
  });
});
