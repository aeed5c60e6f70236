import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { defineModelTiers, openaiChat } from '../model/index.js';
import { defineAgent } from './index.js';

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
