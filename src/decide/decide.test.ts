import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  ModelCallError,
  defineModelTiers,
  simulator,
  type ModelAdapterV1,
  type ModelRequest,
  type SimulatedTurn,
} from '../model/index.js';
import { openStore } from '../store/index.js';
import { anthropicMessages, openaiChat } from '../model/index.js';
import { startFakeAnthropicServer, startFakeOpenAIServer } from '../testing/index.js';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide, memoryDecisionCache, resolveReview, reviewItem, waitForReview } from './index.js';

const topic = z.enum(['billing', 'shipping', 'other']);
const base = {
  schema: topic,
  instructions: 'Classify the support ticket.',
  input: 'I was charged twice for order A-1.',
  fallback: 'other' as const,
};

/** A simulator that also keeps every request it was sent. */
function recorded(script: readonly SimulatedTurn[] | ((call: number) => SimulatedTurn)): {
  model: ModelAdapterV1;
  requests: ModelRequest[];
} {
  const requests: ModelRequest[] = [];
  const inner = simulator({
    script: typeof script === 'function' ? () => script(requests.length - 1) : script,
  });
  return {
    requests,
    model: {
      ...inner,
      doGenerate(request, options) {
        requests.push(request);
        return inner.doGenerate(request, options);
      },
    },
  };
}

function lastUserText(request: ModelRequest | undefined): string {
  const message = request?.messages.at(-1);
  return message?.parts.map((part) => (part.type === 'text' ? part.text : '')).join('') ?? '';
}

const answer = (value: unknown, confidence: number): SimulatedTurn => ({
  text: JSON.stringify({ value, confidence }),
});

describe('decide', () => {
  it('retries invalid JSON then a schema violation with the error fed back, until valid', async () => {
    const { model, requests } = recorded([
      { text: '{"value": "billing", ' },
      answer('refunds', 0.9),
      answer('billing', 0.9),
    ]);
    const decision = await decide({ ...base, model, retries: 2 });

    expect(requests).toHaveLength(3);
    expect(decision).toMatchObject({
      status: 'decided',
      value: 'billing',
      confidence: 0.9,
      calls: 3,
    });
    const attempts = decision.events.filter((event) => event.type === 'decision_attempt');
    expect(attempts.map((event) => event.error === undefined)).toEqual([false, false, true]);
    // Each retry carries the previous attempt's error, as the last thing the model reads.
    expect(lastUserText(requests[1])).toContain('not valid JSON');
    expect(lastUserText(requests[1])).toContain(attempts[0]?.error);
    expect(lastUserText(requests[2])).toContain('value does not match the schema');
    expect(lastUserText(requests[2])).toContain(attempts[1]?.error);
    expect(requests[0]?.tools).toEqual([]);
    expect(requests[0]?.system).toContain('"enum":["billing","shipping","other"]');
  });

  it('returns the fallback with confidence 0 and the reason when every attempt is invalid', async () => {
    const { model, requests } = recorded(() => ({ text: 'I think it is billing.' }));
    const decision = await decide({ ...base, model, retries: 2 });

    expect(requests).toHaveLength(3);
    expect(decision).toMatchObject({ status: 'fallback', value: 'other', confidence: 0 });
    expect(decision.reason).toMatch(/^no valid answer after 3 attempt\(s\): not valid JSON/);
    expect(decision.events.at(-1)).toEqual({
      type: 'decision_fallback',
      reason: decision.reason,
      confidence: 0,
    });
  });

  it('returns the fallback instead of throwing when the model call itself fails', async () => {
    const failing: ModelAdapterV1 = {
      ...simulator({ script: [] }),
      doGenerate: () => Promise.reject(new ModelCallError('overloaded', 'busy')),
    };
    const decision = await decide({
      ...base,
      model: failing,
      retries: 1,
      modelRetry: { initialDelayMs: 0 },
    });
    expect(decision).toMatchObject({
      status: 'fallback',
      value: 'other',
      confidence: 0,
      source: 'fallback',
      calls: 2,
    });
    expect(decision.reason).toBe(
      'no valid answer after 2 attempt(s): the model call failed (overloaded): busy',
    );
  });

  it('does not retry a model failure the retry policy calls final', async () => {
    for (const type of ['authentication', 'bad_request'] as const) {
      let calls = 0;
      const failing: ModelAdapterV1 = {
        ...simulator({ script: [] }),
        doGenerate: () => {
          calls += 1;
          return Promise.reject(new ModelCallError(type, 'no', { statusCode: 401 }));
        },
      };
      const decision = await decide({ ...base, model: failing, retries: 2 });
      expect({ calls, status: decision.status, confidence: decision.confidence }).toEqual({
        calls: 1,
        status: 'fallback',
        confidence: 0,
      });
      expect(decision.events.find((event) => event.type === 'decision_attempt')).toMatchObject({
        errorType: type,
        error: `the model call failed (${type}): no`,
      });
    }
  });

  it("waits out a retryable failure's retry-after before trying again", async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const inner = simulator({ script: [answer('billing', 0.9)] });
      const flaky: ModelAdapterV1 = {
        ...inner,
        doGenerate(request, options) {
          calls += 1;
          if (calls === 1) {
            return Promise.reject(
              new ModelCallError('rate_limited', 'slow down', { retryAfterMs: 2_000 }),
            );
          }
          return inner.doGenerate(request, options);
        },
      };
      const pending = decide({ ...base, model: flaky });
      await vi.advanceTimersByTimeAsync(1_999);
      const early = calls;
      await vi.advanceTimersByTimeAsync(1);
      const decision = await pending;
      expect({ early, calls, status: decision.status, value: decision.value }).toEqual({
        early: 1,
        calls: 2,
        status: 'decided',
        value: 'billing',
      });
      expect(decision.events.filter((event) => event.type === 'decision_attempt')).toMatchObject([
        { attempt: 1, errorType: 'rate_limited', retryAfterMs: 2_000 },
        { attempt: 2 },
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes the majority of 5 votes split 3/2 and lowers the confidence', async () => {
    const votes = ['billing', 'shipping', 'billing', 'shipping', 'billing'];
    const { model, requests } = recorded((call) => answer(votes[call], 0.9));
    const decision = await decide({ ...base, model, votes: 5 });

    expect(requests).toHaveLength(5);
    expect(decision.status).toBe('decided');
    expect(decision.value).toBe('billing');
    expect(decision.confidence).toBeCloseTo(0.9 * (3 / 5), 10);
    expect(decision.events.filter((event) => event.type === 'decision_vote')).toHaveLength(5);
    expect(decision.events).toContainEqual(
      expect.objectContaining({ type: 'decision_made', agreement: [3, 5] }),
    );
  });

  it('keeps the full confidence when all votes agree', async () => {
    const { model } = recorded(() => answer('shipping', 0.8));
    const decision = await decide({ ...base, model, votes: 3 });
    expect(decision).toMatchObject({ value: 'shipping', confidence: 0.8 });
  });

  it('falls back below minConfidence as a fallback (confidence 0), the model answer kept apart', async () => {
    const { model } = recorded([
      {
        text: JSON.stringify({
          value: 'billing',
          confidence: 0.4,
          reason: 'It mentions a charge.',
        }),
      },
    ]);
    const decision = await decide({ ...base, model, minConfidence: 0.7 });
    expect(decision).toMatchObject({
      status: 'fallback',
      source: 'fallback',
      value: 'other',
      confidence: 0,
      reason: 'confidence 0.4 is below 0.7',
      proposal: { value: 'billing', confidence: 0.4, reasoning: 'It mentions a charge.' },
    });
  });

  it('accepts a decision at or above minConfidence', async () => {
    const { model } = recorded([answer('billing', 0.7)]);
    const decision = await decide({ ...base, model, minConfidence: 0.7 });
    expect(decision).toMatchObject({ status: 'decided', value: 'billing', confidence: 0.7 });
  });

  it('keeps a durable review item showing the pick, its confidence and reasoning, the options, the fallback', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const { model } = recorded([
        {
          text: JSON.stringify({
            value: 'shipping',
            confidence: 0.3,
            reason: 'The order may not have arrived.',
          }),
        },
      ]);
      const decision = await decide({
        ...base,
        model,
        minConfidence: 0.7,
        onLowConfidence: 'review',
        store,
      });
      expect(decision).toMatchObject({
        status: 'review',
        source: 'fallback',
        value: 'other',
        confidence: 0,
        proposal: {
          value: 'shipping',
          confidence: 0.3,
          reasoning: 'The order may not have arrived.',
        },
      });
      const [record] = await store.decisions.list({ status: 'review' });
      expect(record).toMatchObject({ id: decision.id, confidence: 0, decidedAt: null });
      expect(record?.events).toEqual(decision.events);
      expect(record && reviewItem(record)).toEqual({
        id: decision.id,
        kind: 'decision',
        instructions: base.instructions,
        input: base.input,
        proposed: {
          value: 'shipping',
          confidence: 0.3,
          reasoning: 'The order may not have arrived.',
        },
        alternatives: ['billing', 'shipping', 'other'],
        fallback: 'other',
        minConfidence: 0.7,
        reason: 'confidence 0.3 is below 0.7',
        runId: null,
        createdAt: record?.createdAt,
      });
    } finally {
      await store.close();
    }
  });

  it('serves an identical decision at temperature 0 from the cache', async () => {
    const cache = memoryDecisionCache();
    const { model, requests } = recorded(() => answer('billing', 0.9));
    const first = await decide({ ...base, model, cache });
    const second = await decide({
      ...base,
      input: '  I was charged   twice for order A-1. ',
      model,
      cache,
    });
    expect(requests).toHaveLength(1);
    expect(first.status).toBe('decided');
    expect(second).toMatchObject({ status: 'cached', value: 'billing', calls: 0 });
    expect(second.events).toContainEqual(
      expect.objectContaining({ type: 'decision_cache_hit', decisionId: first.id }),
    );
  });

  it('never caches a decision sampled above temperature 0', async () => {
    const cache = memoryDecisionCache();
    const { model, requests } = recorded(() => answer('billing', 0.9));
    await decide({ ...base, model, cache, temperature: 0.7 });
    const again = await decide({ ...base, model, cache, temperature: 0.7 });
    expect(requests).toHaveLength(2);
    expect(again.status).toBe('decided');
  });

  it('uses the fast tier when given tiers and no model', async () => {
    const fast = recorded([answer('billing', 0.9)]);
    const frontier = recorded([answer('shipping', 0.9)]);
    const tiers = defineModelTiers({ fast: [fast.model], frontier: [frontier.model] });
    const decision = await decide({ ...base, tiers });
    expect(decision.value).toBe('billing');
    expect(frontier.requests).toHaveLength(0);
  });

  it('rejects invalid options naming the field', async () => {
    const { model } = recorded([]);
    await expect(decide({ ...base, model, fallback: 'nope' as 'other' })).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining('"fallback"'),
    });
    await expect(decide({ ...base, model, votes: 0 })).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining('"votes"'),
    });
    await expect(
      decide({ ...base, model, modelRetry: { initialDelayMs: -1 } }),
    ).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringContaining('"modelRetry.initialDelayMs"'),
    });
  });

  it('hands the chosen value to a waiter once a reviewer resolves the item', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-decide-'));
    const url = `sqlite:${join(directory, 'keel.db')}`;
    const first = await openStore(url);
    const { model } = recorded([answer('shipping', 0.2)]);
    const decision = await decide({
      ...base,
      model,
      minConfidence: 0.7,
      onLowConfidence: 'review',
      store: first,
    });
    await first.close();

    const store = await openStore(url);
    try {
      const waiting = waitForReview({ store, id: decision.id, schema: topic, pollMs: 10 });
      await expect(
        resolveReview({ store, id: decision.id, value: 'refunds', decidedBy: 'ana' }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
      await resolveReview({ store, id: decision.id, value: 'billing', decidedBy: 'ana' });
      const { value, record } = await waiting;
      expect(value).toBe('billing');
      expect(record).toMatchObject({ status: 'resolved', decidedBy: 'ana', confidence: 1 });
      expect(record.events.at(-1)).toMatchObject({ type: 'decision_resolved', value: 'billing' });
      await expect(
        resolveReview({ store, id: decision.id, value: 'shipping', decidedBy: 'bo' }),
      ).rejects.toMatchObject({ code: 'conflict' });
    } finally {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('asks an OpenAI-compatible server for the schema natively (response_format)', async () => {
    const formats: unknown[] = [];
    const server = await startFakeOpenAIServer({
      respond: ({ body }) => {
        formats.push(body.response_format);
        return { content: JSON.stringify({ value: 'shipping', confidence: 0.95 }) };
      },
    });
    try {
      const model = openaiChat({ model: 'gpt-test', baseURL: server.url, apiKey: 'k' });
      const decision = await decide({ ...base, model });
      expect(decision).toMatchObject({ status: 'decided', value: 'shipping', confidence: 0.95 });
      expect(formats).toEqual([
        {
          type: 'json_schema',
          json_schema: {
            name: 'decision',
            schema: {
              type: 'object',
              properties: {
                value: { type: 'string', enum: ['billing', 'shipping', 'other'] },
                confidence: { type: 'number', minimum: 0, maximum: 1 },
                reason: { type: 'string' },
              },
              required: ['value', 'confidence'],
              additionalProperties: false,
            },
          },
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it('asks Anthropic for the schema natively (output_config.format) through the real SDK', async () => {
    const formats: unknown[] = [];
    const server = await startFakeAnthropicServer({
      respond: ({ body }) => {
        formats.push(body.output_config);
        return { text: JSON.stringify({ value: 'billing', confidence: 0.9 }) };
      },
    });
    try {
      const model = anthropicMessages({ model: 'claude-test', baseURL: server.url, apiKey: 'k' });
      const decision = await decide({ ...base, model });
      expect(decision).toMatchObject({ status: 'decided', value: 'billing', confidence: 0.9 });
      // Anthropic does not enforce numeric bounds: the SDK's strict form moves them into the
      // description, and the caller's validation still checks them.
      expect(formats).toEqual([
        {
          format: {
            type: 'json_schema',
            schema: {
              type: 'object',
              properties: {
                value: { enum: ['billing', 'shipping', 'other'] },
                confidence: { type: 'number', description: expect.stringContaining('1') },
                reason: { type: 'string' },
              },
              required: ['value', 'confidence'],
              additionalProperties: false,
            },
          },
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it('leaves a schema Anthropic cannot express to the prompt and still validates', async () => {
    const formats: unknown[] = [];
    const server = await startFakeAnthropicServer({
      respond: ({ body }) => {
        formats.push(body.output_config);
        return { text: JSON.stringify({ value: { any: 'thing' }, confidence: 0.8 }) };
      },
    });
    try {
      const model = anthropicMessages({ model: 'claude-test', baseURL: server.url, apiKey: 'k' });
      const decision = await decide({
        schema: z.unknown(),
        instructions: 'Extract anything.',
        input: 'text',
        fallback: null,
        model,
      });
      expect(decision).toMatchObject({ status: 'decided', value: { any: 'thing' } });
      expect(formats).toEqual([undefined]);
    } finally {
      await server.close();
    }
  });
});
