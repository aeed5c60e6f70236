import { countTokens as cl100kCount } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200kCount } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { TRUSTED_TASK } from '../core/index.js';
import {
  conservativeTokenCount,
  countInputTokens,
  countRequestTokens,
  countTextTokens,
  encodingForModel,
  estimateError,
  openaiChat,
  simulator,
  type ModelRequest,
} from './index.js';

const FIXTURE_TEXTS = [
  'Hello, world!',
  'Where is order 42? It was due on Tuesday and the tracking page says "label created".',
  'Größenordnung, naïve café, 東京都, emoji 🚀🔥 and tabs\tand\nnewlines.',
  JSON.stringify({ orderId: 'A-1029', items: [{ sku: 'X1', qty: 2 }], note: null }),
  'function add(a: number, b: number): number {\n  return a + b;\n}\n'.repeat(20),
  '',
];

function request(text: string): ModelRequest {
  return {
    system: 'You are terse.',
    messages: [{ role: 'user', parts: [{ type: 'text', text, provenance: TRUSTED_TASK }] }],
    tools: [],
  };
}

describe('countTextTokens', () => {
  it.each(FIXTURE_TEXTS.map((text, index) => ({ index, text })))(
    'equals gpt-tokenizer on fixture text $index in o200k_base and cl100k_base',
    ({ text }) => {
      expect([countTextTokens(text, 'o200k_base'), countTextTokens(text, 'cl100k_base')]).toEqual([
        o200kCount(text),
        cl100kCount(text),
      ]);
    },
  );
});

describe('encodingForModel', () => {
  it('picks cl100k_base for the GPT-4 and 3.5 generation and o200k_base for newer models', () => {
    expect(
      ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo', 'gpt-4o', 'gpt-4.1-mini', 'o3', 'gpt-5', 'x'].map(
        encodingForModel,
      ),
    ).toEqual([
      'cl100k_base',
      'cl100k_base',
      'cl100k_base',
      'o200k_base',
      'o200k_base',
      'o200k_base',
      'o200k_base',
      'o200k_base',
    ]);
  });
});

describe('countRequestTokens', () => {
  it('counts every text with the tokenizer plus the chat framing', () => {
    const text = FIXTURE_TEXTS[1] ?? '';
    // 3 to prime the reply, 3 per message (system, user).
    expect(countRequestTokens(request(text), 'o200k_base')).toEqual({
      tokens: 3 + 3 + o200kCount('You are terse.') + 3 + o200kCount(text),
      method: 'tokenizer',
      exact: true,
    });
  });

  it('counts a message once per encoding, each with its own tokenizer', () => {
    const text = FIXTURE_TEXTS[2] ?? '';
    const shared = request(text);
    const first = [
      countRequestTokens(shared, 'o200k_base'),
      countRequestTokens(shared, 'cl100k_base'),
    ];
    const again = [
      countRequestTokens(shared, 'o200k_base'),
      countRequestTokens(shared, 'cl100k_base'),
    ];
    const expected = (count: (value: string) => number) =>
      3 + 3 + count('You are terse.') + 3 + count(text);
    expect([first.map((entry) => entry.tokens), again]).toEqual([
      [expected(o200kCount), expected(cl100kCount)],
      first,
    ]);
  });

  it('is what an OpenAI adapter uses for its pre-flight estimate and count', async () => {
    const model = openaiChat({ model: 'gpt-4.1-mini', apiKey: 'k' });
    const text = FIXTURE_TEXTS[2] ?? '';
    const expected = countRequestTokens(request(text), 'o200k_base');
    expect([
      model.estimateInputTokens?.(request(text)),
      await countInputTokens(model, request(text)),
    ]).toEqual([expected.tokens, expected]);
  });
});

describe('conservativeTokenCount', () => {
  it.each(FIXTURE_TEXTS.filter((text) => text.length > 0))(
    'is flagged and never below the o200k count of the same request',
    (text) => {
      const estimate = conservativeTokenCount(request(text));
      expect(estimate.exact).toBe(false);
      expect(estimate.tokens).toBeGreaterThanOrEqual(
        countRequestTokens(request(text), 'o200k_base').tokens,
      );
    },
  );

  it.each([
    ['CJK', '日本語の文書を読んで要約してください。'.repeat(500)],
    ['Korean', '한국어 문서를 읽고 요약해 주세요. '.repeat(500)],
    ['accented', 'Ça s’écrit déjà à l’été, évidemment. '.repeat(500)],
    ['emoji', '🙂🚀✅ done '.repeat(500)],
  ])('counts a token for every character outside ASCII (%s), never below o200k', (_, text) => {
    const estimate = conservativeTokenCount(request(text));
    expect(estimate.tokens).toBeGreaterThanOrEqual(
      countRequestTokens(request(text), 'o200k_base').tokens,
    );
    let wide = 0;
    for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) wide += 1;
    expect(estimate.tokens).toBeGreaterThanOrEqual(wide);
  });

  it('is what countInputTokens falls back to for a model without a counter', async () => {
    const model = { ...simulator({ script: [{ text: 'x' }] }) };
    delete (model as { estimateInputTokens?: unknown }).estimateInputTokens;
    expect(await countInputTokens(model, request('abc'))).toEqual(
      conservativeTokenCount(request('abc')),
    );
  });
});

describe('estimateError', () => {
  it('is positive when the estimate was high, with its ratio to the reported input', () => {
    expect([estimateError(120, 100), estimateError(90, 100), estimateError(5, 0)]).toEqual([
      { tokens: 20, ratio: 0.2 },
      { tokens: -10, ratio: -0.1 },
      { tokens: 5, ratio: null },
    ]);
  });
});

describe('text that spells a special token', () => {
  it('is counted as text, not refused (a fetched page may contain <|endoftext|>)', () => {
    expect(() => countTextTokens('before <|endoftext|> after', 'o200k_base')).not.toThrow();
    expect(countTextTokens('<|endoftext|>', 'o200k_base')).toBeGreaterThan(1);
  });
});
