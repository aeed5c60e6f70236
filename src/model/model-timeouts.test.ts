import type { LanguageModelV3 } from '@ai-sdk/provider';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeelError, TRUSTED_TASK } from '../core/index.js';
import {
  startFakeAnthropicServer,
  type FakeAnthropicServer,
} from '../testing/fake-anthropic-server.js';
import {
  startFakeOpenAIServer,
  type FakeOpenAIServer,
  type FakeReply,
} from '../testing/fake-openai-server.js';
import { failureOf } from './__tests__/model-call-failure.js';
import {
  DEFAULT_MODEL_TIMEOUT_MS,
  aiSdkModel,
  anthropicMessages,
  openaiChat,
  resolveModel,
  type ModelRequest,
} from './index.js';

const closers: (() => Promise<void>)[] = [];
// The adapters load their SDK on the first call, inside its deadline: load them up front so
// short deadlines measure the server, not the import.
beforeAll(async () => {
  await Promise.all([import('openai'), import('@anthropic-ai/sdk')]);
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function openaiServer(reply: FakeReply): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAIServer({ respond: () => reply });
  closers.push(() => server.close());
  return server;
}

async function anthropicServer(reply: 'stall' | 'hang'): Promise<FakeAnthropicServer> {
  const server = await startFakeAnthropicServer({ respond: () => ({ fault: reply }) });
  closers.push(() => server.close());
  return server;
}

const request: ModelRequest = {
  system: 'Answer.',
  messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi', provenance: TRUSTED_TASK }] }],
  tools: [],
};

/** Lets pending I/O callbacks run without touching (possibly faked) timers. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean): Promise<void> {
  for (let index = 0; index < 10_000 && !condition(); index++) await turn();
  if (!condition()) throw new Error('condition never held');
}

describe('model call deadlines', () => {
  it('defaults to 60 seconds: a hung provider call ends typed timeout then, not before', async () => {
    expect(DEFAULT_MODEL_TIMEOUT_MS).toBe(60_000);
    const server = await openaiServer({ fault: 'hang' });
    const model = resolveModel(`openai-compatible:${server.url}#hung`, undefined, {
      onWarning: () => undefined,
    });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled = false;
    const failure = failureOf(
      model.doGenerate(request, {}).finally(() => {
        settled = true;
      }),
    );
    await until(() => server.requests === 1);
    await vi.advanceTimersByTimeAsync(DEFAULT_MODEL_TIMEOUT_MS - 1);
    for (let index = 0; index < 50; index++) await turn();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await failure;
    expect([error.type, error.retryable, error.message]).toEqual([
      'timeout',
      true,
      'no response within 60000 ms',
    ]);
  });

  it('takes timeoutMs from the model string', async () => {
    const server = await openaiServer({ fault: 'hang' });
    const model = resolveModel(`openai-compatible:${server.url}#hung?timeoutMs=150`, undefined, {
      onWarning: () => undefined,
    });
    expect(model.modelId).toBe('hung');
    const error = await failureOf(model.doGenerate(request, {}));
    expect([error.type, error.message]).toEqual(['timeout', 'no response within 150 ms']);
  });

  it.each([
    ['openai-compatible:http://127.0.0.1:1/v1#m?timeout=5', 'unknown option "timeout"'],
    ['openai-compatible:http://127.0.0.1:1/v1#m?timeoutMs=0', '"timeoutMs" must be a whole'],
    ['openai:gpt-4.1-mini?timeoutMs=1.5', '"timeoutMs" must be a whole'],
    ['anthropic:claude-haiku-4-5?timeoutMs=abc', '"timeoutMs" must be a whole'],
    // A Node timer asked for more than 2^31 - 1 ms fires after 1 ms: every call would time out.
    ['openai:gpt-4.1-mini?timeoutMs=2147483648', 'from 1 to 2147483647'],
    ['openai:gpt-4.1-mini?timeoutMs=30000&timeoutMs=1', '"timeoutMs" is given twice'],
    // Options anywhere but last: they would be sent as part of the name or the URL, and lost.
    ['openai:gpt-4.1-mini?timeoutMs=300#x', 'a model name cannot hold "?", "#"'],
    ['anthropic:claude-haiku-4-5#x', 'a model name cannot hold "?", "#"'],
    [
      'openai-compatible:http://127.0.0.1:1/v1?timeoutMs=300#m',
      'the base URL cannot carry a query',
    ],
    // The SDK appends each endpoint's path to the base URL: after a query, it breaks the URL.
    ['openai-compatible:http://127.0.0.1:1/v1?tenant=a#m', 'the base URL cannot carry a query'],
  ])('refuses a bad model-string option: %s', (spec, message) => {
    const attempt = (): unknown =>
      resolveModel(spec, undefined, {
        env: { OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k' },
        onWarning: () => undefined,
      });
    expect(attempt).toThrow(KeelError);
    expect(attempt).toThrow(message);
  });

  it('openai: a stream that stalls after its first event ends typed timeout, said to be stalled', async () => {
    const server = await openaiServer({ fault: 'stall' });
    const model = openaiChat({
      model: 'm',
      baseURL: server.url,
      apiKey: 'k',
      stream: true,
      timeoutMs: 500,
    });
    const error = await failureOf(model.doGenerate(request, {}));
    expect([error.type, error.message]).toEqual([
      'timeout',
      'the response stream stalled: nothing arrived for 500 ms',
    ]);
  });

  it('openai: a body that stalls after its first bytes ends typed timeout', async () => {
    const server = await openaiServer({ fault: 'stall' });
    const model = openaiChat({ model: 'm', baseURL: server.url, apiKey: 'k', timeoutMs: 200 });
    expect((await failureOf(model.doGenerate(request, {}))).type).toBe('timeout');
  });

  it('openai: a slow stream that keeps arriving outlasts timeoutMs', async () => {
    // 13 events 50 ms apart: about 650 ms in all, never more than 50 ms of silence.
    const text = 'a long and steady reply, sent a few characters at a time, that keeps coming';
    const server = await openaiServer({ content: text, eventIntervalMs: 50 });
    const model = openaiChat({
      model: 'm',
      baseURL: server.url,
      apiKey: 'k',
      stream: true,
      timeoutMs: 400,
    });
    const startedAt = performance.now();
    const response = await model.doGenerate(request, {});
    expect(performance.now() - startedAt).toBeGreaterThan(400);
    expect(response.content).toEqual([{ type: 'text', text }]);
  });

  it('anthropic: a stream that stalls after message_start ends typed timeout, said to be stalled', async () => {
    const server = await anthropicServer('stall');
    const model = anthropicMessages({
      model: 'claude-haiku-4-5',
      baseURL: server.url,
      apiKey: 'k',
      stream: true,
      timeoutMs: 500,
    });
    const error = await failureOf(model.doGenerate(request, {}));
    expect([error.type, error.message]).toEqual([
      'timeout',
      'the response stream stalled: nothing arrived for 500 ms',
    ]);
  });

  it('anthropic: takes timeoutMs from the model string', async () => {
    const server = await anthropicServer('hang');
    const model = resolveModel('anthropic:claude-haiku-4-5?timeoutMs=150', undefined, {
      env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url },
      onWarning: () => undefined,
    });
    const error = await failureOf(model.doGenerate(request, {}));
    expect([error.type, error.message]).toEqual(['timeout', 'no response within 150 ms']);
  });

  it('ai-sdk: a wrapped model that ignores its abort signal still ends typed timeout', async () => {
    let sawAbort = false;
    const stuck = {
      specificationVersion: 'v3',
      provider: 'stuck.chat',
      modelId: 'stuck',
      supportedUrls: {},
      doGenerate: (options: { abortSignal?: AbortSignal }) => {
        options.abortSignal?.addEventListener('abort', () => {
          sawAbort = true;
        });
        return new Promise(() => undefined);
      },
      doStream: () => new Promise(() => undefined),
    } as unknown as LanguageModelV3;
    const error = await failureOf(aiSdkModel(stuck, { timeoutMs: 100 }).doGenerate(request, {}));
    expect([error.type, error.message, sawAbort]).toEqual([
      'timeout',
      'no response within 100 ms',
      true,
    ]);
  });

  it('ai-sdk: refuses a timeoutMs that is not a positive integer', () => {
    const model = {
      specificationVersion: 'v3',
      doGenerate: () => undefined,
    } as unknown as LanguageModelV3;
    expect(() => aiSdkModel(model, { timeoutMs: 0 })).toThrow(
      'aiSdkModel: "timeoutMs" must be a whole number of milliseconds from 1 to 2147483647',
    );
  });

  it.each([
    ['openai', () => openaiChat({ model: 'm', apiKey: 'k', timeoutMs: 2 ** 31 })],
    ['anthropic', () => anthropicMessages({ model: 'm', apiKey: 'k', timeoutMs: 2 ** 31 })],
    [
      'ai-sdk',
      () =>
        aiSdkModel(
          { specificationVersion: 'v3', doGenerate: () => undefined } as unknown as LanguageModelV3,
          { timeoutMs: 2 ** 31 },
        ),
    ],
  ])('%s: refuses a timeoutMs longer than a timer can wait (it would fire at once)', (_, make) => {
    expect(make).toThrow('"timeoutMs" must be a whole number of milliseconds from 1 to 2147483647');
  });

  it('openai: the longest timeoutMs a timer can wait is a deadline that holds', async () => {
    const server = await openaiServer({ content: 'ok' });
    const model = openaiChat({
      model: 'm',
      baseURL: server.url,
      apiKey: 'k',
      timeoutMs: 2_147_483_647,
    });
    const response = await model.doGenerate(request, {});
    expect([response.finishReason, response.content]).toEqual([
      'stop',
      [{ type: 'text', text: 'ok' }],
    ]);
  });
});
