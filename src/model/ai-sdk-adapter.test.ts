import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { afterEach, describe, expect, it } from 'vitest';
import { TRUSTED_AGENT, TRUSTED_TASK } from '../core/index.js';
import {
  startFakeOpenAIServer,
  type FakeChatRequestBody,
  type FakeOpenAIServer,
  type FakeReply,
} from '../testing/fake-openai-server.js';
import { aiSdkModel, type ModelRequest } from './index.js';
import { failureOf } from './__tests__/model-call-failure.js';

const servers: FakeOpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function setup(reply: FakeReply | ((callIndex: number) => FakeReply)) {
  const bodies: FakeChatRequestBody[] = [];
  const server = await startFakeOpenAIServer({
    respond: ({ body, callIndex }) => {
      bodies.push(body);
      return typeof reply === 'function' ? reply(callIndex) : reply;
    },
  });
  servers.push(server);
  const provider = createOpenAICompatible({ name: 'local', baseURL: server.url, apiKey: 'k' });
  return { model: aiSdkModel(provider.chatModel('llama-test')), bodies, server };
}

const REQUEST: ModelRequest = {
  system: 'You are terse.',
  messages: [
    { role: 'user', parts: [{ type: 'text', text: 'Where is 42?', provenance: TRUSTED_TASK }] },
  ],
  tools: [
    {
      name: 'lookup',
      description: 'Look an order up.',
      inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    },
  ],
};

describe('aiSdkModel', () => {
  it('refuses anything that is not an AI SDK v6 language model', () => {
    expect(() => aiSdkModel({} as never)).toThrow(/specificationVersion "v3"/);
  });

  it('maps text, usage with cached input, and the provider and model names', async () => {
    const { model } = await setup({
      content: 'It shipped.',
      usage: { promptTokens: 100, completionTokens: 5, cachedTokens: 40 },
    });
    const response = await model.doGenerate(REQUEST, {});
    expect({
      provider: model.provider,
      modelId: model.modelId,
      content: response.content,
      usage: {
        input: response.usage.inputTokens,
        output: response.usage.outputTokens,
        cacheRead: response.usage.cacheReadTokens,
      },
      finishReason: response.finishReason,
    }).toEqual({
      provider: 'local',
      modelId: 'llama-test',
      content: [{ type: 'text', text: 'It shipped.' }],
      usage: { input: 100, output: 5, cacheRead: 40 },
      finishReason: 'stop',
    });
  });

  it('round-trips a tool call through the AI SDK prompt format', async () => {
    const { model, bodies } = await setup((callIndex) =>
      callIndex === 0
        ? { toolCalls: [{ name: 'lookup', arguments: '{"id":"42"}', id: 'call_1' }] }
        : { content: 'Shipped.' },
    );
    const first = await model.doGenerate(REQUEST, {});
    expect([first.content, first.finishReason]).toEqual([
      [{ type: 'tool_call', callId: 'call_1', toolName: 'lookup', arguments: '{"id":"42"}' }],
      'tool_calls',
    ]);
    const second = await model.doGenerate(
      {
        ...REQUEST,
        messages: [
          ...REQUEST.messages,
          {
            role: 'assistant',
            parts: [
              {
                type: 'tool_call',
                callId: 'call_1',
                toolName: 'lookup',
                arguments: '{"id":"42"}',
                provenance: TRUSTED_AGENT,
              },
            ],
          },
          {
            role: 'tool',
            parts: [
              {
                type: 'tool_result',
                callId: 'call_1',
                toolName: 'lookup',
                content: 'shipped',
                isError: false,
                provenance: { trust: 'untrusted', source: 'tool:lookup' },
              },
            ],
          },
        ],
      },
      {},
    );
    expect(second.content).toEqual([{ type: 'text', text: 'Shipped.' }]);
    expect(bodies[1]?.messages.map((message) => message.role)).toEqual([
      'system',
      'user',
      'assistant',
      'tool',
    ]);
  });

  it('types 429 with retry-after, 500, context too long and a malformed body', async () => {
    const faults: FakeReply[] = [
      { fault: 'rate_limited', retryAfterSeconds: 3 },
      { fault: 'server_error' },
      {
        fault: 'http_error',
        status: 400,
        errorCode: 'context_length_exceeded',
        message: 'too long',
      },
      { fault: 'malformed_body' },
    ];
    const { model } = await setup((callIndex) => faults[callIndex] ?? { content: 'x' });
    const results: [string, number | undefined, number | undefined][] = [];
    for (const _ of faults) {
      const failure = await failureOf(model.doGenerate(REQUEST, {}));
      results.push([failure.type, failure.statusCode, failure.retryAfterMs]);
    }
    expect(results).toEqual([
      ['rate_limited', 429, 3000],
      ['server_error', 500, undefined],
      ['context_too_long', 400, undefined],
      ['malformed_response', 200, undefined],
    ]);
  });

  it('reports aborted when the signal aborts during the call', async () => {
    const { model } = await setup({ fault: 'hang' });
    const controller = new AbortController();
    const pending = failureOf(model.doGenerate(REQUEST, { signal: controller.signal }));
    setTimeout(() => {
      controller.abort();
    }, 20);
    expect((await pending).type).toBe('aborted');
  });
});
