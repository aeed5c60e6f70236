import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';
import {
  aiSdkModel,
  anthropicMessages,
  checkModelPrice,
  costOf,
  createPriceTable,
  loadPriceOverrides,
  parsePriceOverrides,
  openaiChat,
  priceFileMatch,
  projectPriceTable,
  simulator,
  type ModelUsage,
} from './index.js';

const table = createPriceTable();

function priceOf(provider: string, model: string) {
  const found = table.lookup(provider, model);
  if (!found) throw new Error(`no price for ${provider}:${model}`);
  return found.price;
}

/** Rounded to a nano-dollar: floating-point sums differ in the last bits only. */
function usd(value: number | null): number | null {
  return value === null ? null : Math.round(value * 1e9) / 1e9;
}

// Each expected value is computed by hand from the provider's published price per million
// tokens; usage is Keel's (input includes cache reads and writes).
const FIXTURES: {
  provider: string;
  model: string;
  usage: ModelUsage;
  expected: number;
  how: string;
}[] = [
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    // On the wire: input_tokens 2000, cache_read 10000, cache_creation 1000, output 500.
    usage: {
      inputTokens: 13_000,
      outputTokens: 500,
      cacheReadTokens: 10_000,
      cacheWriteTokens: 1000,
    },
    expected: 0.02025,
    how: '2000*3 + 10000*0.3 + 1000*3.75 + 500*15 = 20250 / 1e6',
  },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    usage: { inputTokens: 250_000, outputTokens: 1000 },
    expected: 1.5225,
    how: 'above 200k input the long-context tier: 250000*6 + 1000*22.5 = 1522500 / 1e6',
  },
  {
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
    usage: { inputTokens: 8000, outputTokens: 300, cacheReadTokens: 5000, cacheWriteTokens: 2000 },
    expected: 0.0055,
    how: '1000*1 + 5000*0.1 + 2000*1.25 + 300*5 = 5500 / 1e6',
  },
  {
    provider: 'openai',
    model: 'gpt-4o',
    // On the wire: prompt_tokens 10000 with cached_tokens 4000, completion_tokens 1000.
    usage: { inputTokens: 10_000, outputTokens: 1000, cacheReadTokens: 4000 },
    expected: 0.03,
    how: '6000*2.5 + 4000*1.25 + 1000*10 = 30000 / 1e6',
  },
  {
    provider: 'openai',
    model: 'gpt-4.1-mini',
    usage: { inputTokens: 20_000, outputTokens: 2000, cacheReadTokens: 8000 },
    expected: 0.0088,
    how: '12000*0.4 + 8000*0.1 + 2000*1.6 = 8800 / 1e6',
  },
];

describe('costOf with default prices', () => {
  it.each(FIXTURES)(
    'prices $provider:$model as hand-computed ($how)',
    ({ provider, model, usage, expected }) => {
      expect(usd(costOf(usage, priceOf(provider, model)))).toBe(expected);
    },
  );

  it.each(FIXTURES)(
    'agrees with genai-prices itself on $provider:$model',
    ({ provider, model, usage }) => {
      const reference = calcPrice(
        {
          input_tokens: usage.inputTokens,
          output_tokens: usage.outputTokens,
          cache_read_tokens: usage.cacheReadTokens,
          cache_write_tokens: usage.cacheWriteTokens,
        },
        model,
        { providerId: provider },
      );
      expect(usd(costOf(usage, priceOf(provider, model)))).toBe(usd(reference?.total_price ?? -1));
    },
  );

  it('gives null, never 0, for a model no table knows', () => {
    expect(table.lookup('openai', 'no-such-model-xyz')).toBeUndefined();
    expect(costOf({ inputTokens: 1000, outputTokens: 10 }, undefined)).toBeNull();
  });

  it('prices openai-compatible models of hosted providers by their base URL', () => {
    expect([
      table.lookup('openai-compatible', 'openai/gpt-4o', 'https://openrouter.ai/api/v1')?.price,
      table.lookup('openai-compatible', 'llama-3.1-8b-instant', 'https://api.groq.com/openai/v1')
        ?.price,
    ]).toEqual([
      { inputPerMillion: 2.5, outputPerMillion: 10 },
      { inputPerMillion: 0.05, outputPerMillion: 0.08 },
    ]);
  });

  it('prices an openai-compatible model by its base URL, and a local server not at all', () => {
    expect(
      table.lookup('openai-compatible', 'llama3.1', 'http://127.0.0.1:11434/v1'),
    ).toBeUndefined();
    expect(table.lookup('openai-compatible', 'gpt-4o')).toBeUndefined();
  });

  it('knows a server on a private network or over plain HTTP is no priced provider', () => {
    for (const baseURL of [
      'https://10.0.0.5/v1',
      'https://192.168.1.20:8000/v1',
      'https://localhost:8443/v1',
      'https://[::1]:8000/v1',
      'http://gateway.example.com/v1',
    ])
      expect(table.lookup('openai-compatible', 'gpt-4o', baseURL)).toBeUndefined();
    // A public HTTPS host is still looked up (and priced when the table knows it).
    expect(
      table.lookup('openai-compatible', 'openai/gpt-4o', 'https://openrouter.ai/api/v1'),
    ).toBeDefined();
  });
});

describe('price overrides', () => {
  const overrides = parsePriceOverrides({
    models: [
      { match: 'my-finetune-*', inputPerMillion: 1, outputPerMillion: 4, cacheReadPerMillion: 0.5 },
      {
        match: '/^claude-sonnet-4-5$/',
        provider: 'anthropic',
        inputPerMillion: 2,
        outputPerMillion: 10,
        cacheWritePerMillion: 2.5,
        tiers: [{ aboveInputTokens: 100_000, inputPerMillion: 4, outputPerMillion: 20 }],
      },
      { match: 'gpt-4o', provider: 'azure', inputPerMillion: 9, outputPerMillion: 9 },
    ],
  });
  const prices = createPriceTable({ overrides });

  it('wins over the default table when its pattern and provider match', () => {
    const found = prices.lookup('anthropic', 'claude-sonnet-4-5');
    expect(found?.source).toBe('override');
    // 1000*2 + 1000*2.5 (cache write) + 100*10 = 5500
    expect(
      usd(costOf({ inputTokens: 2000, outputTokens: 100, cacheWriteTokens: 1000 }, found?.price)),
    ).toBe(0.0055);
  });

  it('applies its tier to the whole call above the threshold', () => {
    const found = prices.lookup('anthropic', 'claude-sonnet-4-5');
    // 150000*4 + 1000*20 = 620000; the tier has no cache-write price, so input's applies.
    expect(usd(costOf({ inputTokens: 150_000, outputTokens: 1000 }, found?.price))).toBe(0.62);
  });

  it('matches globs case-insensitively and leaves other providers to the defaults', () => {
    expect(prices.lookup('openai', 'My-Finetune-v2')?.price).toEqual({
      inputPerMillion: 1,
      outputPerMillion: 4,
      cacheReadPerMillion: 0.5,
    });
    expect(prices.lookup('openai', 'gpt-4o')).toEqual({
      source: 'genai-prices',
      price: expect.objectContaining({ inputPerMillion: 2.5 }),
    });
  });

  it('rejects a bad entry naming the field', () => {
    const attempt = () =>
      parsePriceOverrides({ models: [{ match: 'x', inputPerMillion: -1, outputPerMillion: 1 }] });
    expect(attempt).toThrow(KeelError);
    expect(attempt).toThrow(/models\.0\.inputPerMillion/);
    expect(() =>
      parsePriceOverrides({ models: [{ match: '/(/', inputPerMillion: 1, outputPerMillion: 1 }] }),
    ).toThrow(/models\.0\.match/);
  });

  it('loads a file and reports a missing or broken one as invalid_config', () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-prices-'));
    const good = join(directory, 'keel.prices.json');
    writeFileSync(
      good,
      JSON.stringify({ models: [{ match: 'a*', inputPerMillion: 1, outputPerMillion: 2 }] }),
    );
    const broken = join(directory, 'broken.json');
    writeFileSync(broken, '{"models": [');
    expect(loadPriceOverrides(good)).toEqual([
      { match: 'a*', inputPerMillion: 1, outputPerMillion: 2 },
    ]);
    for (const path of [broken, join(directory, 'missing.json')]) {
      try {
        loadPriceOverrides(path);
        expect.unreachable();
      } catch (error) {
        expect(KeelError.isInstance(error) && error.code).toBe('invalid_config');
      }
    }
  });
});

describe("checkModelPrice (an adapter's price option)", () => {
  it('takes a price a cost can be computed from, tiers and cache prices included', () => {
    for (const price of [
      undefined,
      { inputPerMillion: 0, outputPerMillion: 0 },
      {
        inputPerMillion: 3,
        outputPerMillion: 15,
        cacheReadPerMillion: 0.3,
        cacheWritePerMillion: 3.75,
        tiers: [{ aboveInputTokens: 200_000, inputPerMillion: 6, outputPerMillion: 22.5 }],
      },
    ])
      expect(() => {
        checkModelPrice('openaiChat', price);
      }).not.toThrow();
  });

  it('refuses one that would make a cost negative or NaN, naming the field', () => {
    const problems = [
      { inputPerMillion: -1000, outputPerMillion: 1 },
      { inputPerMillion: Number.NaN, outputPerMillion: 1 },
      { inputPerMillion: 1, outputPerMillion: Infinity },
      {},
      { input: 1, output: 4 },
      { inputPerMillion: 1, outputPerMillion: 1, input: 1 },
      { inputPerMillion: '10', outputPerMillion: 1 },
      { inputPerMillion: 1, outputPerMillion: 1, tiers: [{ aboveInputTokens: 5 }] },
      'cheap',
    ].map((price) => {
      try {
        checkModelPrice('openaiChat', price);
        return 'accepted';
      } catch (error) {
        if (!KeelError.isInstance(error) || error.code !== 'invalid_config') throw error;
        return /"(price[^"]*)"/.exec(error.message)?.[1];
      }
    });
    expect(problems).toEqual([
      'price.inputPerMillion',
      'price.inputPerMillion',
      'price.outputPerMillion',
      'price.inputPerMillion',
      'price.inputPerMillion',
      'price',
      'price.inputPerMillion',
      'price.tiers.0.inputPerMillion',
      'price',
    ]);
  });

  it.each([
    ['openaiChat', (price: never) => openaiChat({ model: 'm', apiKey: 'k', price })],
    ['anthropicMessages', (price: never) => anthropicMessages({ model: 'm', apiKey: 'k', price })],
    [
      'aiSdkModel',
      (price: never) =>
        aiSdkModel(
          {
            specificationVersion: 'v3',
            provider: 'fake.chat',
            modelId: 'm',
            doGenerate: () => undefined,
          } as unknown as LanguageModelV3,
          { price },
        ),
    ],
    ['simulator', (price: never) => simulator({ script: [], price })],
  ])('%s refuses such a price when it is made', (name, make) => {
    expect(() => make({ inputPerMillion: -1, outputPerMillion: 1 } as never)).toThrow(
      `${name}: "price.inputPerMillion" Too small: expected number to be >=0`,
    );
    expect(make({ inputPerMillion: 1, outputPerMillion: 1 } as never).price).toEqual({
      inputPerMillion: 1,
      outputPerMillion: 1,
    });
  });
});

describe('priceFileMatch', () => {
  const tableFor = (modelId: string) =>
    createPriceTable({
      overrides: parsePriceOverrides(
        { models: [{ match: priceFileMatch(modelId), inputPerMillion: 1, outputPerMillion: 2 }] },
        'keel.prices.json',
      ),
      useDefaults: false,
    });

  it('prices exactly the model it was made for, whatever its id holds', () => {
    for (const id of [
      'llama3.1',
      'meta-llama/Llama-3.1-8B',
      'a*b',
      '/models/c++/',
      '/m(8b)/',
      'x[1]?$',
      'a*\nb',
      '/x\u2028y/',
    ]) {
      expect(tableFor(id).lookup('openai', id)?.price, id).toEqual({
        inputPerMillion: 1,
        outputPerMillion: 2,
      });
    }
    expect(tableFor('a*b').lookup('openai', 'aXXb')).toBeUndefined();
    expect(tableFor('/models/c++/').lookup('openai', '/models/c+/')).toBeUndefined();
  });

  it('is the id itself when the id means only itself', () => {
    expect(priceFileMatch('gpt-4.1-mini')).toBe('gpt-4.1-mini');
    expect(priceFileMatch('a*b')).toBe('/^a\\*b$/');
  });
});

describe('projectPriceTable', () => {
  it('reads keel.prices.json from the working directory, over the defaults', () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-project-'));
    writeFileSync(
      join(directory, 'keel.prices.json'),
      JSON.stringify({ models: [{ match: 'gpt-4o', inputPerMillion: 9, outputPerMillion: 9 }] }),
    );
    const empty = mkdtempSync(join(tmpdir(), 'keel-project-'));
    expect([
      projectPriceTable(directory).lookup('openai', 'gpt-4o')?.price.inputPerMillion,
      projectPriceTable(empty).lookup('openai', 'gpt-4o')?.price.inputPerMillion,
    ]).toEqual([9, 2.5]);
  });
});
