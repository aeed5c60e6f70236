import type { IncomingHttpHeaders } from 'node:http';
import { createGzip } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { TRUSTED_AGENT, TRUSTED_RUNTIME, TRUSTED_TASK } from '../core/index.js';
import {
  startFakeOpenAIServer,
  type FakeChatRequestBody,
  type FakeOpenAIServer,
  type FakeOpenAIServerOptions,
  type FakeReply,
} from '../testing/fake-openai-server.js';
import type { ModelRequest } from './index.js';
import {
  MAX_MODEL_ERROR_MESSAGE,
  MAX_STREAMED_REPLY_CHARACTERS,
  ModelCallError,
} from './model-adapter.js';
import { openaiChat, type OpenAIChatOptions } from './openai-adapter.js';
import { parseRetryAfter } from './retry-after.js';
import { failureOf, summary } from './__tests__/model-call-failure.js';
import { closeRawServers, rawServer, writeForever } from './__tests__/raw-server.js';
import { webStreamsPerCall } from './__tests__/web-streams.js';

const MODEL = 'gpt-test';
const TOOL_PROVENANCE = { trust: 'untrusted', source: 'tool:lookup' } as const;

const servers: FakeOpenAIServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterEach(closeRawServers);

async function serve(options: FakeOpenAIServerOptions): Promise<FakeOpenAIServer> {
  const server = await startFakeOpenAIServer(options);
  servers.push(server);
  return server;
}

/** A server that always gives `reply`, and an adapter pointed at it. */
async function setup(
  reply: FakeReply,
  adapterOptions: Partial<OpenAIChatOptions> = {},
): Promise<{ server: FakeOpenAIServer; model: ReturnType<typeof openaiChat> }> {
  const server = await serve({ respond: () => reply });
  const model = openaiChat({
    model: MODEL,
    baseURL: server.url,
    apiKey: 'test-key',
    ...adapterOptions,
  });
  return { server, model };
}

function userRequest(text: string): ModelRequest {
  return {
    system: 'You are terse.',
    messages: [{ role: 'user', parts: [{ type: 'text', text, provenance: TRUSTED_TASK }] }],
    tools: [],
  };
}

describe('openaiChat', () => {
  it('describes itself as an openai v1 adapter with the given model and price', () => {
    const price = { inputPerMillion: 0.4, outputPerMillion: 1.6 };
    const model = openaiChat({ model: MODEL, apiKey: 'test-key', price });
    expect({
      specificationVersion: model.specificationVersion,
      provider: model.provider,
      modelId: model.modelId,
      price: model.price,
    }).toEqual({ specificationVersion: 'v1', provider: 'openai', modelId: MODEL, price });
  });

  it('maps a text reply to a response with usage when the server answers with content', async () => {
    const { model } = await setup({
      content: 'Hello there.',
      usage: { promptTokens: 120, completionTokens: 7, cachedTokens: 100, reasoningTokens: 3 },
    });

    const response = await model.doGenerate(userRequest('hi'), {});

    expect(response).toEqual({
      content: [{ type: 'text', text: 'Hello there.' }],
      usage: { inputTokens: 120, outputTokens: 7, cacheReadTokens: 100, reasoningTokens: 3 },
      finishReason: 'stop',
      responseId: 'chatcmpl-fake0',
      responseModel: MODEL,
    });
  });

  it('keeps raw argument text and reports tool_calls when the server answers with tool calls', async () => {
    const { model } = await setup({
      toolCalls: [
        { id: 'call_a', name: 'lookup', arguments: '{"query":"a"}' },
        { id: 'call_b', name: 'lookup', arguments: '{"query": broken' },
      ],
      usage: { promptTokens: 50, completionTokens: 20 },
    });

    const response = await model.doGenerate(userRequest('find a and b'), {});

    expect(response).toEqual({
      content: [
        { type: 'tool_call', callId: 'call_a', toolName: 'lookup', arguments: '{"query":"a"}' },
        { type: 'tool_call', callId: 'call_b', toolName: 'lookup', arguments: '{"query": broken' },
      ],
      usage: { inputTokens: 50, outputTokens: 20, cacheReadTokens: 0, reasoningTokens: 0 },
      finishReason: 'tool_calls',
      responseId: 'chatcmpl-fake0',
      responseModel: MODEL,
    });
  });

  it.each([
    ['length', 'length'],
    ['content_filter', 'content_filter'],
    ['function_call', 'tool_calls'],
    ['something_new', 'other'],
  ] as const)('maps finish_reason %s to %s', async (wire, expected) => {
    const { model } = await setup({ content: 'x', finishReason: wire });
    const response = await model.doGenerate(userRequest('hi'), {});
    expect(response.finishReason).toBe(expected);
  });

  it('sends system, text, tool calls, tool results and tools in the Chat Completions shape', async () => {
    const bodies: FakeChatRequestBody[] = [];
    const server = await serve({
      respond: ({ body }) => {
        bodies.push(body);
        return { content: 'ok' };
      },
    });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'test-key' });
    const request: ModelRequest = {
      system: 'You look things up.',
      messages: [
        {
          role: 'user',
          parts: [{ type: 'text', text: 'Find a and b.', provenance: TRUSTED_TASK }],
        },
        {
          role: 'assistant',
          parts: [
            { type: 'text', text: 'Looking.', provenance: TRUSTED_AGENT },
            {
              type: 'tool_call',
              callId: 'call_1',
              toolName: 'lookup',
              arguments: '{"query":"a"}',
              provenance: TRUSTED_AGENT,
            },
            {
              type: 'tool_call',
              callId: 'call_2',
              toolName: 'lookup',
              arguments: '{bad',
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
              content: 'A is 1',
              isError: false,
              provenance: TOOL_PROVENANCE,
            },
            {
              type: 'tool_result',
              callId: 'call_2',
              toolName: 'lookup',
              content: 'invalid_input: not JSON',
              isError: true,
              provenance: TRUSTED_RUNTIME,
            },
          ],
        },
        {
          role: 'assistant',
          parts: [
            {
              type: 'tool_call',
              callId: 'call_3',
              toolName: 'lookup',
              arguments: '{"query":"b"}',
              provenance: TRUSTED_AGENT,
            },
          ],
        },
        {
          role: 'tool',
          parts: [
            {
              type: 'tool_result',
              callId: 'call_3',
              toolName: 'lookup',
              content: 'B is 2',
              isError: false,
              provenance: TOOL_PROVENANCE,
            },
          ],
        },
      ],
      tools: [
        {
          name: 'lookup',
          description: 'Look up an item',
          inputSchema: {
            type: 'object',
            properties: { query: { type: 'string' } },
            required: ['query'],
          },
        },
      ],
      maxOutputTokens: 256,
      temperature: 0,
      seed: 7,
    };

    await model.doGenerate(request, {});

    expect(bodies).toEqual([
      {
        model: MODEL,
        messages: [
          { role: 'system', content: 'You look things up.' },
          { role: 'user', content: 'Find a and b.' },
          {
            role: 'assistant',
            content: 'Looking.',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'lookup', arguments: '{"query":"a"}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'lookup', arguments: '{bad' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'A is 1' },
          { role: 'tool', tool_call_id: 'call_2', content: 'invalid_input: not JSON' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_3',
                type: 'function',
                function: { name: 'lookup', arguments: '{"query":"b"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_3', content: 'B is 2' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'lookup',
              description: 'Look up an item',
              parameters: {
                type: 'object',
                properties: { query: { type: 'string' } },
                required: ['query'],
              },
            },
          },
        ],
        max_completion_tokens: 256,
        temperature: 0,
        seed: 7,
      },
    ]);
  });

  it('leaves out the system message and tools when there are none', async () => {
    const bodies: FakeChatRequestBody[] = [];
    const server = await serve({
      respond: ({ body }) => {
        bodies.push(body);
        return { content: 'ok' };
      },
    });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'test-key' });

    await model.doGenerate({ ...userRequest('hi'), system: '' }, {});

    expect(bodies).toEqual([{ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }]);
  });

  it('sends the API key and organization headers', async () => {
    const seen: (string | string[] | undefined)[][] = [];
    const server = await serve({
      respond: ({ headers }) => {
        seen.push([headers.authorization, headers['openai-organization']]);
        return { content: 'ok' };
      },
    });
    const model = openaiChat({
      model: MODEL,
      baseURL: server.url,
      apiKey: 'sk-abc',
      organization: 'org-1',
    });

    await model.doGenerate(userRequest('hi'), {});

    expect(seen).toEqual([['Bearer sk-abc', 'org-1']]);
  });

  describe('errors', () => {
    it('reports rate_limited with retryAfterMs when 429 carries retry-after seconds', async () => {
      const { model } = await setup({ fault: 'rate_limited', retryAfterSeconds: 2 });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type: 'rate_limited',
        statusCode: 429,
        retryAfterMs: 2000,
        retryable: true,
      });
    });

    it('reports rate_limited with retryAfterMs when 429 carries retry-after-ms', async () => {
      const { model } = await setup({ fault: 'rate_limited', retryAfterMs: 150 });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type: 'rate_limited',
        statusCode: 429,
        retryAfterMs: 150,
        retryable: true,
      });
    });

    it('prefers retry-after-ms when 429 carries both headers', async () => {
      const { model } = await setup({
        fault: 'rate_limited',
        retryAfterSeconds: 3,
        retryAfterMs: 2500,
      });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(error.retryAfterMs).toBe(2500);
    });

    it('reports rate_limited without retryAfterMs when 429 has no retry-after', async () => {
      const { model } = await setup({ fault: 'rate_limited' });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type: 'rate_limited',
        statusCode: 429,
        retryAfterMs: undefined,
        retryable: true,
      });
    });

    it('reports a non-retryable bad_request when 429 means the quota is used up', async () => {
      const { model } = await setup({
        fault: 'http_error',
        status: 429,
        errorType: 'insufficient_quota',
        errorCode: 'insufficient_quota',
      });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type: 'bad_request',
        statusCode: 429,
        retryAfterMs: undefined,
        retryable: false,
      });
    });

    it.each([500, 502, 503])(
      'reports a retryable server_error when the server answers %i',
      async (status) => {
        const { model } = await setup({ fault: 'server_error', status });
        const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
        expect(summary(error)).toEqual({
          type: 'server_error',
          statusCode: status,
          retryAfterMs: undefined,
          retryable: true,
        });
      },
    );

    it.each([
      {
        label: '529',
        type: 'overloaded',
        retryable: true,
        reply: { status: 529, errorType: 'overloaded_error' },
      },
      {
        label: '503 overloaded_error',
        type: 'overloaded',
        retryable: true,
        reply: { status: 503, errorType: 'overloaded_error' },
      },
      { label: '408', type: 'timeout', retryable: true, reply: { status: 408 } },
      {
        label: '400 context_length_exceeded',
        type: 'context_too_long',
        retryable: false,
        reply: { status: 400, errorCode: 'context_length_exceeded' },
      },
      {
        label: '400 content_filter',
        type: 'content_filtered',
        retryable: false,
        reply: { status: 400, errorCode: 'content_filter' },
      },
      { label: '400', type: 'bad_request', retryable: false, reply: { status: 400 } },
      {
        label: '404 model_not_found',
        type: 'unavailable',
        retryable: false,
        reply: { status: 404, errorCode: 'model_not_found' },
      },
      { label: '404', type: 'bad_request', retryable: false, reply: { status: 404 } },
      { label: '403', type: 'authentication', retryable: false, reply: { status: 403 } },
    ] as const)('reports $label as $type', async ({ reply: fault, type, retryable }) => {
      const reply = { fault: 'http_error', ...fault } as const;
      const { model } = await setup(reply);
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type,
        statusCode: reply.status,
        retryAfterMs: undefined,
        retryable,
      });
    });

    it('reports a non-retryable authentication error when the API key is wrong (401)', async () => {
      const server = await serve({ apiKey: 'sk-right', respond: () => ({ content: 'never' }) });
      const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'sk-wrong' });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(summary(error)).toEqual({
        type: 'authentication',
        statusCode: 401,
        retryAfterMs: undefined,
        retryable: false,
      });
    });

    it('reports malformed_response when a 200 body is not valid JSON', async () => {
      const { model } = await setup({ fault: 'malformed_body' });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect({ type: error.type, retryable: error.retryable }).toEqual({
        type: 'malformed_response',
        retryable: true,
      });
    });

    it.each([
      ['lacks choices', '{"id":"chatcmpl-1","object":"chat.completion"}'],
      ['has empty choices', '{"id":"chatcmpl-1","choices":[]}'],
      ['is not an object', '"hello"'],
      [
        'has a tool call without a name',
        '{"choices":[{"message":{"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}}]}',
      ],
    ])('reports malformed_response when a 200 JSON body %s', async (_label, body) => {
      const { model } = await setup({ fault: 'malformed_body', body });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect(error.type).toBe('malformed_response');
    });

    it('reports timeout when the server hangs past timeoutMs', async () => {
      const { model } = await setup({ fault: 'hang' }, { timeoutMs: 200 });
      const started = Date.now();
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect({ type: error.type, retryable: error.retryable }).toEqual({
        type: 'timeout',
        retryable: true,
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('reports aborted when the signal aborts during the call', async () => {
      const { server, model } = await setup({ fault: 'hang' });
      const controller = new AbortController();
      // Abort once the server holds the request, however long a busy machine takes to send it.
      const watch = setInterval(() => {
        if (server.requests === 0) return;
        clearInterval(watch);
        controller.abort();
      }, 5);
      const error = await failureOf(
        model.doGenerate(userRequest('hi'), { signal: controller.signal }),
      );
      expect({ type: error.type, retryable: error.retryable, requests: server.requests }).toEqual({
        type: 'aborted',
        retryable: false,
        requests: 1,
      });
    });

    it('reports aborted without sending when the signal is already aborted', async () => {
      const { server, model } = await setup({ content: 'never' });
      const error = await failureOf(
        model.doGenerate(userRequest('hi'), { signal: AbortSignal.abort() }),
      );
      expect({ type: error.type, requests: server.requests }).toEqual({
        type: 'aborted',
        requests: 0,
      });
    });

    it('reports network when nothing listens at the base URL', async () => {
      const server = await startFakeOpenAIServer();
      await server.close();
      const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'test-key' });
      const error = await failureOf(model.doGenerate(userRequest('hi'), {}));
      expect({ type: error.type, retryable: error.retryable }).toEqual({
        type: 'network',
        retryable: true,
      });
    });
  });

  it('serves hundreds of concurrent calls with the default tool-loop script', async () => {
    const server = await serve({ toolCallsPerRun: 2, toolName: 'search' });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'test-key' });
    const afterOneResult: ModelRequest = {
      ...userRequest('go'),
      messages: [
        ...userRequest('go').messages,
        {
          role: 'assistant',
          parts: [
            {
              type: 'tool_call',
              callId: 'c1',
              toolName: 'search',
              arguments: '{}',
              provenance: TRUSTED_AGENT,
            },
          ],
        },
        {
          role: 'tool',
          parts: [
            {
              type: 'tool_result',
              callId: 'c1',
              toolName: 'search',
              content: 'r',
              isError: false,
              provenance: TOOL_PROVENANCE,
            },
          ],
        },
      ],
    };
    const afterTwoResults: ModelRequest = {
      ...afterOneResult,
      messages: [
        ...afterOneResult.messages,
        {
          role: 'tool',
          parts: [
            {
              type: 'tool_result',
              callId: 'c2',
              toolName: 'search',
              content: 'r',
              isError: false,
              provenance: TOOL_PROVENANCE,
            },
          ],
        },
      ],
    };

    const responses = await Promise.all(
      Array.from({ length: 300 }, () => model.doGenerate(afterOneResult, {})),
    );
    const final = await model.doGenerate(afterTwoResults, {});

    expect(server.requests).toBe(301);
    expect(
      responses.map((response) => {
        const [part] = response.content;
        return part?.type === 'tool_call'
          ? [part.toolName, part.arguments, response.finishReason]
          : part;
      }),
    ).toEqual(Array.from({ length: 300 }, () => ['search', '{"query":"item-2"}', 'tool_calls']));
    expect({ content: final.content, finishReason: final.finishReason }).toEqual({
      content: [{ type: 'text', text: 'done' }],
      finishReason: 'stop',
    });
  });
});

describe('parseRetryAfter', () => {
  const clock = { now: () => Date.parse('2026-01-01T00:00:00Z') };

  it.each([
    ['delay seconds', { 'retry-after': '3' }, 3000],
    ['fractional seconds', { 'retry-after': '0.25' }, 250],
    ['milliseconds', { 'retry-after-ms': '150' }, 150],
    ['milliseconds over seconds', { 'retry-after': '9', 'retry-after-ms': '40' }, 40],
    ['an HTTP date', { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, 5000],
    ['an HTTP date in the past', { 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['no header', {}, undefined],
  ])('reads %s', (_label, headers, expected) => {
    expect(parseRetryAfter(new Headers(headers), { clock })).toBe(expected);
  });
});

describe('openaiChat over SSE', () => {
  it('folds streamed text and the usage chunk, cached tokens included in input', async () => {
    const bodies: FakeChatRequestBody[] = [];
    const server = await serve({
      respond: ({ body }) => {
        bodies.push(body);
        return {
          content: 'Order 42 shipped on Tuesday.',
          usage: { promptTokens: 500, completionTokens: 9, cachedTokens: 320, reasoningTokens: 2 },
        };
      },
    });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('Where is 42?'), {});
    expect({
      response,
      stream: bodies[0]?.stream,
      streamOptions: bodies[0]?.stream_options,
    }).toEqual({
      response: {
        content: [{ type: 'text', text: 'Order 42 shipped on Tuesday.' }],
        usage: { inputTokens: 500, outputTokens: 9, cacheReadTokens: 320, reasoningTokens: 2 },
        finishReason: 'stop',
        responseId: 'chatcmpl-fake0',
        responseModel: MODEL,
      },
      stream: true,
      streamOptions: { include_usage: true },
    });
  });

  it('assembles streamed tool-call arguments, malformed ones kept as sent', async () => {
    const server = await serve({
      respond: () => ({
        toolCalls: [
          { name: 'lookup', arguments: '{"orderId":"A-1","verbose":true}', id: 'call_a' },
          { name: 'lookup', arguments: '{"orderId": "A-', id: 'call_b' },
        ],
      }),
    });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {});
    expect([response.content, response.finishReason]).toEqual([
      [
        {
          type: 'tool_call',
          callId: 'call_a',
          toolName: 'lookup',
          arguments: '{"orderId":"A-1","verbose":true}',
        },
        { type: 'tool_call', callId: 'call_b', toolName: 'lookup', arguments: '{"orderId": "A-' },
      ],
      'tool_calls',
    ]);
  });

  it('reports rate_limited with retry-after when the stream request gets a 429', async () => {
    const server = await serve({ respond: () => ({ fault: 'rate_limited', retryAfterMs: 70 }) });
    const model = openaiChat({ model: MODEL, baseURL: server.url, apiKey: 'k', stream: true });
    expect(summary(await failureOf(model.doGenerate(userRequest('x'), {})))).toEqual({
      type: 'rate_limited',
      statusCode: 429,
      retryAfterMs: 70,
      retryable: true,
    });
  });

  it('reads a stream cut into odd pieces, with CRLF line ends, comments and split UTF-8', async () => {
    const chunk = (delta: object, extra: object = {}) =>
      `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\r\n\r\n`;
    const body =
      ': opening comment\r\n\r\n' +
      chunk({ role: 'assistant', content: 'Crème ' }) +
      chunk({ content: 'brûlée ✓' }) +
      `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\r\n\r\n` +
      `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [], usage: { prompt_tokens: 7, completion_tokens: 4 } })}\r\n\r\n` +
      'data: [DONE]\r\n\r\n';
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // Three bytes a write: lines, events and the UTF-8 of é, û and ✓ all fall across writes.
      const bytes = Buffer.from(body);
      for (let at = 0; at < bytes.length; at += 3) response.write(bytes.subarray(at, at + 3));
      response.end();
    });
    const deltas: string[] = [];
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {
      onTextDelta: (text) => deltas.push(text),
    });
    expect({ response, deltas }).toEqual({
      response: {
        content: [{ type: 'text', text: 'Crème brûlée ✓' }],
        usage: { inputTokens: 7, outputTokens: 4 },
        finishReason: 'stop',
        responseId: 'c1',
        responseModel: MODEL,
      },
      deltas: ['Crème ', 'brûlée ✓'],
    });
  });

  it('reads a streamed reply without a web stream, and a JSON one through its web stream', async () => {
    const event = (value: object) => `data: ${JSON.stringify(value)}\n\n`;
    const sseUrl = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        event({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { content: 'Hi' } }] }) +
          event({
            id: 'c1',
            model: MODEL,
            choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
          }) +
          'data: [DONE]\n\n',
      );
    });
    const jsonUrl = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id: 'c2',
          model: MODEL,
          choices: [
            { index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 1, completion_tokens: 1 },
        }),
      );
    });
    const streamed = openaiChat({
      model: MODEL,
      baseURL: `${sseUrl}/v1`,
      apiKey: 'k',
      stream: true,
    });
    const whole = openaiChat({
      model: MODEL,
      baseURL: `${jsonUrl}/v1`,
      apiKey: 'k',
      stream: false,
    });
    const { read, parsed } = await webStreamsPerCall({ streamed, whole }, userRequest('x'));
    expect([read.result.content, read.made, parsed.result.content]).toEqual([
      [{ type: 'text', text: 'Hi' }],
      0,
      [{ type: 'text', text: 'Hi' }],
    ]);
    // The count sees the web stream a body the SDK parses is read through.
    expect(parsed.made).toBeGreaterThan(0);
  });

  it("reads a gzip-compressed stream sent over Keel's own HTTP path, not Node's fetch", async () => {
    const event = (value: object) => `data: ${JSON.stringify(value)}\n\n`;
    const seen: IncomingHttpHeaders[] = [];
    const url = await rawServer((response, request) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      const gzip = createGzip();
      gzip.pipe(response);
      gzip.write(
        event({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { content: 'Zipped' } }] }),
      );
      gzip.flush(() => {
        gzip.end(
          event({
            id: 'c1',
            model: MODEL,
            choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
          }) + 'data: [DONE]\n\n',
        );
      });
    });
    const deltas: string[] = [];
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {
      onTextDelta: (text) => deltas.push(text),
    });
    expect({ content: response.content, deltas }).toEqual({
      content: [{ type: 'text', text: 'Zipped' }],
      deltas: ['Zipped'],
    });
    // Node's fetch marks every request with sec-fetch-mode; node:http sends no such header.
    expect(seen.map((headers) => [headers['sec-fetch-mode'], headers['accept-encoding']])).toEqual([
      [undefined, 'gzip, br'],
    ]);
  });

  it('ignores what follows [DONE] in the same piece of the body, an error event included', async () => {
    const event = (value: object) => `data: ${JSON.stringify(value)}\n\n`;
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // One write: the reply, [DONE], then what a confused server might send after it.
      response.end(
        event({
          id: 'c1',
          model: MODEL,
          choices: [{ index: 0, delta: { content: 'Done.' }, finish_reason: 'stop' }],
        }) +
          'data: [DONE]\n\n' +
          event({
            id: 'c1',
            model: MODEL,
            choices: [{ index: 0, delta: { content: ' Extra' }, finish_reason: null }],
          }) +
          event({ error: { message: 'after the end', type: 'server_error' } }),
      );
    });
    const deltas: string[] = [];
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {
      onTextDelta: (text) => deltas.push(text),
    });
    expect({ content: response.content, finishReason: response.finishReason, deltas }).toEqual({
      content: [{ type: 'text', text: 'Done.' }],
      finishReason: 'stop',
      deltas: ['Done.'],
    });
  });

  it("fails the call with the provider's message when the stream carries an error", async () => {
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { content: 'Half' }, finish_reason: null }] })}\n\n`,
      );
      response.end(
        `data: ${JSON.stringify({ error: { message: 'the model crashed mid-reply', type: 'server_error' } })}\n\n`,
      );
    });
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect(failure.message).toContain('the model crashed mid-reply');
  });

  it.each([
    ['a type', { error: { message: 'boom', type: 'server_error' } }, 'error', 'server_error'],
    [
      'a numeric code (OpenRouter)',
      { error: { message: 'boom', code: 500 } },
      null,
      'server_error',
    ],
    [
      'a rate limit',
      { error: { message: 'slow down', type: 'rate_limit_exceeded' } },
      null,
      'rate_limited',
    ],
    ['no type at all', { error: { message: 'boom' } }, 'error', 'server_error'],
    [
      'a bad request',
      { error: { message: 'no', type: 'invalid_request_error' } },
      null,
      'bad_request',
    ],
    [
      'a spent quota, whatever its code',
      { error: { message: 'no money', type: 'insufficient_quota', code: 429 } },
      null,
      'bad_request',
    ],
    [
      'an unknown model',
      { error: { message: 'no such model', code: 'model_not_found' } },
      null,
      'unavailable',
    ],
    [
      'text and an error_type (TGI)',
      { error: 'Input validation error: boom', error_type: 'validation' },
      null,
      'bad_request',
    ],
  ])(
    'types an error sent inside the stream by %s as the status it stands for',
    async (_case, chunk, eventName, type) => {
      const url = await rawServer((response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(
          `${eventName ? `event: ${eventName}\n` : ''}data: ${JSON.stringify(chunk)}\n\n`,
        );
      });
      const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
      const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
      const text = typeof chunk.error === 'string' ? chunk.error : chunk.error.message;
      expect([failure.type, failure.message]).toEqual([type, expect.stringContaining(text)]);
    },
  );

  it("keeps a bounded piece of a provider's huge error text", async () => {
    const url = await rawServer((response) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: 'z'.repeat(1_000_000) } }));
    });
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([failure.type, failure.message.length <= MAX_MODEL_ERROR_MESSAGE + 40]).toEqual([
      'server_error',
      true,
    ]);
    expect(failure.message).toMatch(/… \(\d+ more characters\)$/);
  });

  it('cuts a long error message whole characters at a time', () => {
    const message = new ModelCallError(
      'server_error',
      `${'a'.repeat(MAX_MODEL_ERROR_MESSAGE - 1)}😀${'b'.repeat(10)}`,
    ).message;
    // No half of a surrogate pair left alone: PostgreSQL's jsonb refuses one.
    expect([
      /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(message),
      message.endsWith('(12 more characters)'),
    ]).toEqual([false, true]);
  });

  it('stops reading an endless error body or JSON body instead of filling memory', async () => {
    const endless = (status: number) =>
      rawServer((response) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        const piece = Buffer.alloc(65_536, 'e');
        response.write('{"error":{"message":"');
        writeForever(response, () => piece);
      });
    const outcomes = [];
    for (const status of [500, 200]) {
      const url = await endless(status);
      const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: false });
      const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
      outcomes.push([failure.type, failure.message]);
    }
    expect(outcomes).toEqual([
      ['server_error', expect.stringContaining(`the response body passed ${1024 * 1024} bytes`)],
      ['malformed_response', `the response body passed ${32 * 1024 * 1024} bytes`],
    ]);
  });

  it('cuts off a stream that never ends, whatever it sends, as malformed', async () => {
    const piece = `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { content: 'x'.repeat(65_536) }, finish_reason: null }] })}\n\n`;
    const endless = (unending: string | (() => string)) =>
      rawServer((response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        writeForever(response, typeof unending === 'string' ? () => unending : unending);
      });
    let index = 0;
    // A new tool call at every event, each with a long id and no arguments.
    const calls = () =>
      `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { tool_calls: [{ index: index++, id: 'i'.repeat(65_536) }] }, finish_reason: null }] })}\n\n`;
    // Events that carry nothing a reply keeps, each moving the deadline on.
    const empty = `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [], pad: 'p'.repeat(65_536) })}\n\n`;
    const failures = [];
    for (const url of [
      await endless(piece),
      await endless('data: ' + 'y'.repeat(65_536)),
      await endless(calls),
      await endless(empty),
    ]) {
      const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
      const failure = await failureOf(
        model.doGenerate(userRequest('x'), { onTextDelta: () => undefined }),
      );
      failures.push([failure.type, failure.message]);
    }
    const cutOff = [
      'malformed_response',
      `the streamed reply passed ${MAX_STREAMED_REPLY_CHARACTERS} characters without finishing`,
    ];
    expect(failures).toEqual([cutOff, cutOff, cutOff, cutOff]);
  });

  it('fails a stream that ends before the reply does as a retryable malformed response', async () => {
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      // A tool call with half its arguments, then the body ends: no finish reason, no [DONE].
      response.end(
        `data: ${JSON.stringify({ id: 'c1', model: MODEL, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'refund', arguments: '{"amount": 1' } }] }, finish_reason: null }] })}\n\n`,
      );
    });
    const model = openaiChat({ model: MODEL, baseURL: `${url}/v1`, apiKey: 'k', stream: true });
    const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([failure.type, failure.retryable, failure.message]).toEqual([
      'malformed_response',
      true,
      'the response stream ended before the reply did (no finish reason, no [DONE])',
    ]);
  });

  it('reports timeout when the streaming server hangs past timeoutMs', async () => {
    const server = await serve({ respond: () => ({ fault: 'hang' }) });
    const model = openaiChat({
      model: MODEL,
      baseURL: server.url,
      apiKey: 'k',
      stream: true,
      timeoutMs: 100,
    });
    expect((await failureOf(model.doGenerate(userRequest('x'), {}))).type).toBe('timeout');
  });
});
