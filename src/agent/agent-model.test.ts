import { afterEach, describe, expect, it } from 'vitest';
import { KeelError, TRUSTED_AGENT, TRUSTED_TASK } from '../core/index.js';
import { defineModelTiers, openaiChat } from '../model/index.js';
import { defineAgent } from './index.js';
import { DEFAULT_LIMITS, foldRun, type RunEvent } from '../journal/index.js';

const saved = { ...process.env };
afterEach(() => {
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'OPENAI_BASE_URL']) {
    if (saved[key] === undefined) Reflect.deleteProperty(process.env, key);
    else process.env[key] = saved[key];
  }
});

describe('defineAgent model', () => {
  it('resolves a model string at definition time, priced', () => {
    process.env.ANTHROPIC_API_KEY = 'k';
    const agent = defineAgent({
      name: 'writer',
      model: 'anthropic:claude-sonnet-4-5',
      instructions: 'Write.',
    });
    expect([
      agent.model.provider,
      agent.model.modelId,
      agent.model.price?.outputPerMillion,
    ]).toEqual(['anthropic', 'claude-sonnet-4-5', 15]);
  });

  it('fails naming "model" when a model string cannot be resolved', () => {
    Reflect.deleteProperty(process.env, 'ANTHROPIC_API_KEY');
    try {
      defineAgent({ name: 'writer', model: 'anthropic:claude-sonnet-4-5', instructions: 'Write.' });
      expect.unreachable();
    } catch (error) {
      expect(
        KeelError.isInstance(error) && [
          error.code,
          /"model".*ANTHROPIC_API_KEY/.test(error.message),
        ],
      ).toEqual(['invalid_definition', true]);
    }
  });

  it('carries the tier of a model taken from tiers, and drops it with another model', () => {
    const tiers = defineModelTiers({ fast: [openaiChat({ model: 'small', apiKey: 'k' })] });
    const agent = defineAgent({
      name: 'router',
      model: tiers.model('fast'),
      instructions: 'Route.',
    });
    const other = agent.withModel(openaiChat({ model: 'big', apiKey: 'k' }));
    expect([agent.tier, other.tier]).toEqual(['fast', undefined]);
  });
});

describe('foldRun fallbacks', () => {
  const started: RunEvent = {
    type: 'run_started',
    agent: 'router',
    task: 'Route.',
    taskProvenance: TRUSTED_TASK,
    model: { provider: 'anthropic', modelId: 'primary' },
    limits: DEFAULT_LIMITS,
    startedAt: 0,
  };
  const failed = (attempt: number, fallbackTo?: string): RunEvent => ({
    type: 'model_failed',
    step: 0,
    attempt,
    errorType: 'overloaded',
    message: 'Overloaded',
    willRetry: true,
    ...(fallbackTo === undefined ? {} : { fallbackTo }),
  });

  it('remembers how far the step moved down its chain, so a resumed step goes on from there', () => {
    const moved = foldRun([started, failed(1, 'openai:fallback'), failed(2)]);
    const called = foldRun([
      started,
      failed(1, 'openai:fallback'),
      {
        type: 'model_called',
        step: 0,
        content: [{ type: 'text', text: 'ok' }],
        finishReason: 'stop',
        usage: { inputTokens: 1, outputTokens: 1 },
        costUsd: null,
        estimatedInputTokens: 1,
        latencyMs: 1,
        attempts: 2,
        provenance: TRUSTED_AGENT,
        model: 'openai:fallback',
      },
    ]);
    expect([
      moved.modelFallbacksThisStep,
      moved.modelFailuresThisStep,
      called.modelFallbacksThisStep,
    ]).toEqual([1, 2, 0]);
  });
});
