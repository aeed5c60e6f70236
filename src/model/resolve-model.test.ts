import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { createPriceTable, parsePriceOverrides, resolveModel, simulator } from './index.js';

function resolve(spec: string, env: Record<string, string> = {}) {
  const warnings: string[] = [];
  const model = resolveModel(spec, undefined, {
    env,
    onWarning: (message) => warnings.push(message),
  });
  return { model, warnings };
}

function codeOf(attempt: () => unknown): string | undefined {
  try {
    attempt();
  } catch (error) {
    if (KeelError.isInstance(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('resolveModel', () => {
  it('builds a priced Anthropic adapter from anthropic:<model> and ANTHROPIC_API_KEY', () => {
    const { model, warnings } = resolve('anthropic:claude-sonnet-4-5', { ANTHROPIC_API_KEY: 'k' });
    expect([model.provider, model.modelId, model.price?.inputPerMillion, warnings]).toEqual([
      'anthropic',
      'claude-sonnet-4-5',
      3,
      [],
    ]);
  });

  it('builds a priced OpenAI adapter from openai:<model> and OPENAI_API_KEY', () => {
    const { model } = resolve('openai:gpt-4.1-mini', { OPENAI_API_KEY: 'k' });
    expect([model.provider, model.modelId, model.price?.outputPerMillion]).toEqual([
      'openai',
      'gpt-4.1-mini',
      1.6,
    ]);
  });

  it('builds an unpriced adapter with a warning for a local openai-compatible server', () => {
    const { model, warnings } = resolve('openai-compatible:http://127.0.0.1:11434/v1#llama3.1');
    expect([model.provider, model.modelId, model.price, warnings.length]).toEqual([
      'openai',
      'llama3.1',
      undefined,
      1,
    ]);
    expect(warnings[0]).toMatch(/no price known/);
  });

  it('prices a local model when an override names it, without a warning', () => {
    const prices = createPriceTable({
      overrides: parsePriceOverrides({
        models: [{ match: 'llama3.*', inputPerMillion: 0, outputPerMillion: 0 }],
      }),
    });
    const warnings: string[] = [];
    const model = resolveModel('openai-compatible:http://127.0.0.1:11434/v1#llama3.1', undefined, {
      env: {},
      prices,
      onWarning: (message) => warnings.push(message),
    });
    expect([model.price, warnings]).toEqual([{ inputPerMillion: 0, outputPerMillion: 0 }, []]);
  });

  it('refuses missing keys, names and malformed strings with invalid_config', () => {
    expect([
      codeOf(() => resolve('anthropic:claude-sonnet-4-5')),
      codeOf(() => resolve('anthropic:', { ANTHROPIC_API_KEY: 'k' })),
      codeOf(() => resolve('openai:gpt-4o')),
      codeOf(() => resolve('openai-compatible:llama3.1')),
      codeOf(() => resolve('openai-compatible:http://host/v1#')),
      codeOf(() => resolve('gemini:pro')),
      codeOf(() => resolve('simulator')),
    ]).toEqual(Array(7).fill('invalid_config'));
  });

  it('builds a fallback chain from a comma-separated list', () => {
    const { model } = resolve('anthropic:claude-haiku-4-5, openai:gpt-4.1-mini', {
      ANTHROPIC_API_KEY: 'k',
      OPENAI_API_KEY: 'k',
    });
    expect([
      `${model.provider}:${model.modelId}`,
      model.fallbacks?.map((fallback) => `${fallback.provider}:${fallback.modelId}`),
    ]).toEqual(['anthropic:claude-haiku-4-5', ['openai:gpt-4.1-mini']]);
    expect(codeOf(() => resolve(','))).toBe('invalid_config');
  });

  it('returns the agent simulator for "simulator"', () => {
    const model = simulator({ script: [{ text: 'x' }] });
    expect(resolveModel('simulator', model)).toBe(model);
  });
});
