import type { IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { TRUSTED_AGENT, TRUSTED_TASK } from '../core/index.js';
import {
  fakeTokenCount,
  startFakeAnthropicServer,
  type FakeAnthropicReply,
  type FakeAnthropicRequestBody,
  type FakeAnthropicServer,
  type FakeAnthropicServerOptions,
} from '../testing/fake-anthropic-server.js';
import {
  anthropicMessages,
  conservativeTokenCount,
  countInputTokens,
  type AnthropicMessagesOptions,
  type ModelRequest,
} from './index.js';
import { failureOf, summary } from './__tests__/model-call-failure.js';
import { closeRawServers, rawServer, writeForever } from './__tests__/raw-server.js';
import { webStreamsPerCall } from './__tests__/web-streams.js';
import { MAX_STREAMED_REPLY_CHARACTERS } from './model-adapter.js';

const MODEL = 'claude-test';
const TOOL_PROVENANCE = { trust: 'untrusted', source: 'tool:lookup' } as const;

const servers: FakeAnthropicServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

afterEach(closeRawServers);

async function serve(options: FakeAnthropicServerOptions): Promise<FakeAnthropicServer> {
  const server = await startFakeAnthropicServer(options);
  servers.push(server);
  return server;
}

async function setup(
  reply: FakeAnthropicReply | ((callIndex: number) => FakeAnthropicReply),
  adapterOptions: Partial<AnthropicMessagesOptions> = {},
  serverOptions: FakeAnthropicServerOptions = {},
): Promise<{
  server: FakeAnthropicServer;
  model: ReturnType<typeof anthropicMessages>;
  bodies: FakeAnthropicRequestBody[];
}> {
  const bodies: FakeAnthropicRequestBody[] = [];
  const server = await serve({
    ...serverOptions,
    respond: ({ body, callIndex }) => {
      bodies.push(body);
      return typeof reply === 'function' ? reply(callIndex) : reply;
    },
  });
  const model = anthropicMessages({
    model: MODEL,
    baseURL: server.url,
    apiKey: 'test-key',
    ...adapterOptions,
  });
  return { server, model, bodies };
}

function userRequest(text: string): ModelRequest {
  return {
    system: 'You are terse.',
    messages: [{ role: 'user', parts: [{ type: 'text', text, provenance: TRUSTED_TASK }] }],
    tools: [],
  };
}

const LOOKUP_TOOL = {
  name: 'lookup',
  description: 'Look an order up.',
  inputSchema: {
    type: 'object',
    properties: { id: { type: 'string' } },
    required: ['id'],
  },
};

describe('anthropicMessages', () => {
  it('describes itself as an anthropic v1 adapter with the given model and price', () => {
    const price = { inputPerMillion: 3, outputPerMillion: 15 };
    const model = anthropicMessages({ model: MODEL, apiKey: 'k', price });
    expect([model.specificationVersion, model.provider, model.modelId, model.price]).toEqual([
      'v1',
      'anthropic',
      MODEL,
      price,
    ]);
  });

  it('fails at construction naming the field when the model or key is missing', () => {
    expect(() => anthropicMessages({ model: '', apiKey: 'k' })).toThrow(/"model"/);
    expect(() => anthropicMessages({ model: MODEL, apiKey: '' })).toThrow(/ANTHROPIC_API_KEY/);
    expect(() => anthropicMessages({ model: MODEL, apiKey: 'k', timeoutMs: 0 })).toThrow(
      /"timeoutMs"/,
    );
  });

  for (const stream of [false, true]) {
    describe(stream ? 'over SSE' : 'over JSON', () => {
      it('maps text and normalises usage: input includes cache reads and writes', async () => {
        const { model, bodies } = await setup(
          {
            text: 'Order 42 shipped yesterday.',
            usage: {
              inputTokens: 10,
              outputTokens: 7,
              cacheReadInputTokens: 100,
              cacheCreationInputTokens: 20,
            },
          },
          { stream },
        );
        const response = await model.doGenerate(userRequest('Where is order 42?'), {});
        expect(response).toEqual({
          content: [{ type: 'text', text: 'Order 42 shipped yesterday.' }],
          usage: { inputTokens: 130, outputTokens: 7, cacheReadTokens: 100, cacheWriteTokens: 20 },
          finishReason: 'stop',
          responseId: 'msg_fake0',
          responseModel: MODEL,
        });
        expect(bodies[0]?.stream ?? false).toBe(stream);
      });

      it('round-trips a tool call: tool_use out, tool_result back in one user turn', async () => {
        const { model, bodies } = await setup(
          (callIndex) =>
            callIndex === 0
              ? {
                  text: 'Looking it up.',
                  toolUses: [{ name: 'lookup', input: { id: '42' }, id: 'toolu_1' }],
                }
              : { text: 'It shipped.' },
          { stream },
        );
        const request: ModelRequest = { ...userRequest('Where is 42?'), tools: [LOOKUP_TOOL] };
        const first = await model.doGenerate(request, {});
        expect({ content: first.content, finishReason: first.finishReason }).toEqual({
          content: [
            { type: 'text', text: 'Looking it up.' },
            { type: 'tool_call', callId: 'toolu_1', toolName: 'lookup', arguments: '{"id":"42"}' },
          ],
          finishReason: 'tool_calls',
        });
        const second = await model.doGenerate(
          {
            ...request,
            messages: [
              ...request.messages,
              {
                role: 'assistant',
                parts: [
                  { type: 'text', text: 'Looking it up.', provenance: TRUSTED_AGENT },
                  {
                    type: 'tool_call',
                    callId: 'toolu_1',
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
                    callId: 'toolu_1',
                    toolName: 'lookup',
                    content: '{"status":"shipped"}',
                    isError: false,
                    provenance: TOOL_PROVENANCE,
                  },
                ],
              },
              {
                role: 'user',
                parts: [{ type: 'text', text: 'Be brief.', provenance: TRUSTED_TASK }],
              },
            ],
          },
          {},
        );
        expect(second.content).toEqual([{ type: 'text', text: 'It shipped.' }]);
        expect({
          system: bodies[1]?.system,
          messages: bodies[1]?.messages,
          tools: bodies[1]?.tools,
          maxTokens: bodies[1]?.max_tokens,
        }).toEqual({
          system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'Where is 42?' }] },
            {
              role: 'assistant',
              content: [
                { type: 'text', text: 'Looking it up.' },
                { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { id: '42' } },
              ],
            },
            {
              role: 'user',
              content: [
                { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"status":"shipped"}' },
                { type: 'text', text: 'Be brief.' },
              ],
            },
          ],
          tools: [
            {
              name: 'lookup',
              description: 'Look an order up.',
              input_schema: LOOKUP_TOOL.inputSchema,
            },
          ],
          maxTokens: 4096,
        });
      });

      it('maps a refusal stop reason to content_filter and max_tokens to length', async () => {
        const { model } = await setup(
          (callIndex) => ({ text: 'No.', stopReason: callIndex === 0 ? 'refusal' : 'max_tokens' }),
          { stream },
        );
        const first = await model.doGenerate(userRequest('x'), {});
        const second = await model.doGenerate(userRequest('x'), {});
        expect([first.finishReason, second.finishReason]).toEqual(['content_filter', 'length']);
      });

      it('reports rate_limited with retry-after and retry-after-ms honoured', async () => {
        const { model } = await setup(
          (callIndex) =>
            callIndex === 0
              ? { fault: 'rate_limited', retryAfterSeconds: 2 }
              : { fault: 'rate_limited', retryAfterMs: 150, retryAfterSeconds: 9 },
          { stream },
        );
        const seconds = await failureOf(model.doGenerate(userRequest('x'), {}));
        const milliseconds = await failureOf(model.doGenerate(userRequest('x'), {}));
        expect([summary(seconds), summary(milliseconds)]).toEqual([
          { type: 'rate_limited', statusCode: 429, retryAfterMs: 2000, retryable: true },
          { type: 'rate_limited', statusCode: 429, retryAfterMs: 150, retryable: true },
        ]);
      });

      it('succeeds on the next call after a 429 (the engine retries, not the SDK)', async () => {
        const { model, server } = await setup(
          (callIndex) =>
            callIndex === 0 ? { fault: 'rate_limited', retryAfterMs: 1 } : { text: 'ok' },
          { stream },
        );
        const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
        expect(server.requests).toBe(1);
        const response = await model.doGenerate(userRequest('x'), {});
        expect([failure.type, response.content]).toEqual([
          'rate_limited',
          [{ type: 'text', text: 'ok' }],
        ]);
      });

      it('types overloaded (529), server_error (500), context_too_long and content_filtered', async () => {
        const faults: FakeAnthropicReply[] = [
          { fault: 'overloaded' },
          { fault: 'server_error' },
          { fault: 'context_too_long', promptTokens: 250_000 },
          { fault: 'content_filtered' },
          { fault: 'http_error', status: 401, errorType: 'authentication_error' },
          { fault: 'http_error', status: 404, errorType: 'not_found_error', message: 'model: x' },
          { fault: 'http_error', status: 400, errorType: 'invalid_request_error' },
        ];
        const { model } = await setup((callIndex) => faults[callIndex] ?? { text: 'x' }, {
          stream,
        });
        const results: Record<string, unknown>[] = [];
        for (const _ of faults) {
          results.push(summary(await failureOf(model.doGenerate(userRequest('x'), {}))));
        }
        expect(results).toEqual([
          { type: 'overloaded', statusCode: 529, retryAfterMs: undefined, retryable: true },
          { type: 'server_error', statusCode: 500, retryAfterMs: undefined, retryable: true },
          { type: 'context_too_long', statusCode: 400, retryAfterMs: undefined, retryable: false },
          { type: 'content_filtered', statusCode: 400, retryAfterMs: undefined, retryable: false },
          { type: 'authentication', statusCode: 401, retryAfterMs: undefined, retryable: false },
          { type: 'unavailable', statusCode: 404, retryAfterMs: undefined, retryable: false },
          { type: 'bad_request', statusCode: 400, retryAfterMs: undefined, retryable: false },
        ]);
      });

      it('reports timeout when the server hangs past timeoutMs', async () => {
        const { model } = await setup({ fault: 'hang' }, { stream, timeoutMs: 100 });
        expect(summary(await failureOf(model.doGenerate(userRequest('x'), {})))).toEqual({
          type: 'timeout',
          statusCode: undefined,
          retryAfterMs: undefined,
          retryable: true,
        });
      });

      it('reports aborted when the signal aborts during the call', async () => {
        const { model } = await setup({ fault: 'hang' }, { stream });
        const controller = new AbortController();
        const pending = failureOf(
          model.doGenerate(userRequest('x'), { signal: controller.signal }),
        );
        setTimeout(() => {
          controller.abort();
        }, 20);
        expect((await pending).type).toBe('aborted');
      });
    });
  }

  it('reports malformed_response when a 200 JSON body is cut off or not a message', async () => {
    const { model } = await setup((callIndex) =>
      callIndex === 0
        ? { fault: 'malformed_body' }
        : { fault: 'malformed_body', body: '{"type":"message","content":"nope"}' },
    );
    const cut = await failureOf(model.doGenerate(userRequest('x'), {}));
    const wrong = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([summary(cut), summary(wrong)]).toEqual([
      { type: 'malformed_response', statusCode: 200, retryAfterMs: undefined, retryable: true },
      { type: 'malformed_response', statusCode: 200, retryAfterMs: undefined, retryable: true },
    ]);
  });

  it('reports overloaded when an SSE stream carries an overloaded error event', async () => {
    const { model } = await setup({ fault: 'stream_error' }, { stream: true });
    const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([failure.type, failure.retryable]).toEqual(['overloaded', true]);
  });

  it('reads a stream cut into odd pieces with CRLF ends, and fails one cut off before message_stop', async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\r\ndata: ${JSON.stringify({ type: name, ...data })}\r\n\r\n`;
    const whole =
      event('message_start', {
        message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 9, output_tokens: 1 } },
      }) +
      event('ping', {}) +
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Crème ✓' } }) +
      event('content_block_stop', { index: 0 }) +
      event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } });
    const bodies = [whole + event('message_stop', {}), whole];
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const bytes = Buffer.from(bodies.shift() ?? '');
      // Three bytes a write: lines, events and the UTF-8 of è and ✓ fall across writes.
      for (let at = 0; at < bytes.length; at += 3) response.write(bytes.subarray(at, at + 3));
      response.end();
    });
    const model = anthropicMessages({ model: MODEL, baseURL: url, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {});
    const cut = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([response.content, response.usage, response.finishReason, cut.type]).toEqual([
      [{ type: 'text', text: 'Crème ✓' }],
      { inputTokens: 9, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 },
      'stop',
      'malformed_response',
    ]);
  });

  it('reads a streamed reply without a web stream, and a JSON one through its web stream', async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const sseUrl = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        event('message_start', {
          message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 1, output_tokens: 1 } },
        }) +
          event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
          event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }) +
          event('content_block_stop', { index: 0 }) +
          event('message_delta', {
            delta: { stop_reason: 'end_turn' },
            usage: { output_tokens: 1 },
          }) +
          event('message_stop', {}),
      );
    });
    const jsonUrl = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          id: 'msg_2',
          type: 'message',
          role: 'assistant',
          model: MODEL,
          content: [{ type: 'text', text: 'Hi' }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 1, output_tokens: 1 },
        }),
      );
    });
    const streamed = anthropicMessages({
      model: MODEL,
      baseURL: sseUrl,
      apiKey: 'k',
      stream: true,
    });
    const whole = anthropicMessages({ model: MODEL, baseURL: jsonUrl, apiKey: 'k', stream: false });
    const { read, parsed } = await webStreamsPerCall({ streamed, whole }, userRequest('x'));
    expect([read.result.content, read.made, parsed.result.content]).toEqual([
      [{ type: 'text', text: 'Hi' }],
      0,
      [{ type: 'text', text: 'Hi' }],
    ]);
    // The count sees the web stream a body the SDK parses is read through.
    expect(parsed.made).toBeGreaterThan(0);
  });

  it('cuts off a stream whose text never ends as malformed', async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const piece = event('content_block_delta', {
      index: 0,
      delta: { type: 'text_delta', text: 'x'.repeat(65_536) },
    });
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        event('message_start', {
          message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 1, output_tokens: 1 } },
        }) + event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      );
      writeForever(response, () => piece);
    });
    const model = anthropicMessages({ model: MODEL, baseURL: url, apiKey: 'k', stream: true });
    const failure = await failureOf(
      model.doGenerate(userRequest('x'), { onTextDelta: () => undefined }),
    );
    expect([failure.type, failure.message]).toEqual([
      'malformed_response',
      `the streamed reply passed ${MAX_STREAMED_REPLY_CHARACTERS} characters without finishing`,
    ]);
  });

  it('counts the text a block starts with, and every block opened, against the same bound', async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    let index = 0;
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        event('message_start', {
          message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 1, output_tokens: 1 } },
        }),
      );
      writeForever(response, () =>
        event('content_block_start', {
          index: index++,
          content_block: { type: 'text', text: 'x'.repeat(65_536) },
        }),
      );
    });
    const model = anthropicMessages({ model: MODEL, baseURL: url, apiKey: 'k', stream: true });
    const failure = await failureOf(model.doGenerate(userRequest('x'), {}));
    expect([failure.type, failure.message]).toEqual([
      'malformed_response',
      `the streamed reply passed ${MAX_STREAMED_REPLY_CHARACTERS} characters without finishing`,
    ]);
  });

  it("reads a gzip-compressed stream sent over Keel's own HTTP path, not Node's fetch", async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const seen: IncomingHttpHeaders[] = [];
    const url = await rawServer((response, request) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      response.end(
        gzipSync(
          event('message_start', {
            message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 9, output_tokens: 1 } },
          }) +
            event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
            event('content_block_delta', {
              index: 0,
              delta: { type: 'text_delta', text: 'Zipped' },
            }) +
            event('content_block_stop', { index: 0 }) +
            event('message_delta', {
              delta: { stop_reason: 'end_turn' },
              usage: { output_tokens: 2 },
            }) +
            event('message_stop', {}),
        ),
      );
    });
    const model = anthropicMessages({ model: MODEL, baseURL: url, apiKey: 'k', stream: true });
    const response = await model.doGenerate(userRequest('x'), {});
    expect(response.content).toEqual([{ type: 'text', text: 'Zipped' }]);
    // Node's fetch marks every request with sec-fetch-mode; node:http sends no such header.
    expect(seen.map((headers) => [headers['sec-fetch-mode'], headers['accept-encoding']])).toEqual([
      [undefined, 'gzip, br'],
    ]);
  });

  it('fails a stream or a message whose usage is not token counts as a malformed response', async () => {
    const event = (name: string, data: object) =>
      `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const url = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        event('message_start', {
          message: { id: 'msg_1', model: MODEL, usage: { input_tokens: '9', output_tokens: 1 } },
        }),
      );
    });
    const streamed = anthropicMessages({ model: MODEL, baseURL: url, apiKey: 'k', stream: true });
    // The closing count, negative, would take tokens off what the run has spent.
    const negativeUrl = await rawServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        event('message_start', {
          message: { id: 'msg_1', model: MODEL, usage: { input_tokens: 9, output_tokens: 1 } },
        }) +
          event('message_delta', {
            delta: { stop_reason: 'end_turn' },
            usage: { output_tokens: -50_000 },
          }) +
          event('message_stop', {}),
      );
    });
    const negative = anthropicMessages({
      model: MODEL,
      baseURL: negativeUrl,
      apiKey: 'k',
      stream: true,
    });
    const { model: whole } = await setup({
      fault: 'malformed_body',
      body: JSON.stringify({
        type: 'message',
        content: [{ type: 'text', text: 'hi' }],
        usage: { input_tokens: 9, output_tokens: 1, cache_read_input_tokens: 'many' },
      }),
    });
    const failures = [
      await failureOf(streamed.doGenerate(userRequest('x'), {})),
      await failureOf(whole.doGenerate(userRequest('x'), {})),
      await failureOf(negative.doGenerate(userRequest('x'), {})),
    ];
    expect(failures.map((failure) => [failure.type, failure.message])).toEqual([
      [
        'malformed_response',
        'the response is not a message: usage.input_tokens: expected a whole number >= 0',
      ],
      [
        'malformed_response',
        'the response is not a message: usage.cache_read_input_tokens: expected a whole number >= 0',
      ],
      [
        'malformed_response',
        'the response is not a message: usage.output_tokens: expected a whole number >= 0',
      ],
    ]);
  });

  it('keeps streamed tool input text as sent, malformed included, for the engine to judge', async () => {
    const { model } = await setup(
      { toolUses: [{ name: 'lookup', input: '{"id": "4', id: 'toolu_9' }] },
      { stream: true },
    );
    const response = await model.doGenerate({ ...userRequest('x'), tools: [LOOKUP_TOOL] }, {});
    expect(response.content).toEqual([
      { type: 'tool_call', callId: 'toolu_9', toolName: 'lookup', arguments: '{"id": "4' },
    ]);
  });

  it('sends the system prompt as a plain block when prompt caching is off', async () => {
    const { model, bodies } = await setup({ text: 'ok' }, { cacheSystemPrompt: false });
    await model.doGenerate(userRequest('x'), {});
    expect(bodies[0]?.system).toEqual([{ type: 'text', text: 'You are terse.' }]);
  });

  it('sends the API key and reports authentication when it is wrong', async () => {
    const server = await serve({ apiKey: 'right', respond: () => ({ text: 'ok' }) });
    const good = anthropicMessages({ model: MODEL, baseURL: server.url, apiKey: 'right' });
    const bad = anthropicMessages({ model: MODEL, baseURL: server.url, apiKey: 'wrong' });
    const response = await good.doGenerate(userRequest('x'), {});
    const failure = await failureOf(bad.doGenerate(userRequest('x'), {}));
    expect([response.content, failure.type]).toEqual([
      [{ type: 'text', text: 'ok' }],
      'authentication',
    ]);
  });

  it('counts input tokens with the count_tokens endpoint when it is reachable', async () => {
    const { model, server } = await setup({ text: 'ok' });
    const request: ModelRequest = { ...userRequest('Where is order 42?'), tools: [LOOKUP_TOOL] };
    const count = await countInputTokens(model, request);
    const response = await model.doGenerate(request, {});
    // The fake reports as input exactly what it counts: the endpoint's count is exact.
    expect({ count, countRequests: server.countRequests }).toEqual({
      count: { tokens: response.usage.inputTokens, method: 'provider', exact: true },
      countRequests: 1,
    });
  });

  it('falls back to a flagged conservative estimate when count_tokens is not served', async () => {
    const { model } = await setup({ text: 'ok' }, {}, { countTokens: false });
    const request = userRequest('Where is order 42?');
    const count = await countInputTokens(model, request);
    expect(count).toEqual({
      tokens: model.estimateInputTokens?.(request),
      method: 'estimate',
      exact: false,
    });
    // Conservative: above the count the server would have given.
    const body = { model: MODEL, system: 'You are terse.', messages: [] };
    expect(count.tokens).toBeGreaterThan(fakeTokenCount({ ...body, messages: [] }));
  });
});

describe('anthropicMessages prompt caching', () => {
  it('marks the end of the conversation too when cacheConversation is on', async () => {
    const { model, bodies } = await setup({ text: 'ok' }, { cacheConversation: true });
    await model.doGenerate(userRequest('Where is 42?'), {});
    expect([bodies[0]?.system, bodies[0]?.messages]).toEqual([
      [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
      [
        {
          role: 'user',
          content: [{ type: 'text', text: 'Where is 42?', cache_control: { type: 'ephemeral' } }],
        },
      ],
    ]);
  });

  it('leaves the conversation unmarked by default', async () => {
    const { model, bodies } = await setup({ text: 'ok' });
    await model.doGenerate(userRequest('Where is 42?'), {});
    expect(bodies[0]?.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Where is 42?' }] },
    ]);
  });
});

describe('anthropicMessages pre-flight estimate', () => {
  it('anchors on the last reported usage and estimates only the new messages', async () => {
    const { model } = await setup({
      toolUses: [{ name: 'lookup', input: { id: '42' }, id: 'toolu_1' }],
      usage: { inputTokens: 400, outputTokens: 40, cacheReadInputTokens: 100 },
    });
    const first: ModelRequest = { ...userRequest('Where is 42?'), tools: [LOOKUP_TOOL] };
    const before = model.estimateInputTokens?.(first);
    await model.doGenerate(first, {});
    const toolMessage = {
      role: 'tool' as const,
      parts: [
        {
          type: 'tool_result' as const,
          callId: 'toolu_1',
          toolName: 'lookup',
          content: '{"status":"shipped","carrier":"DHL"}',
          isError: false,
          provenance: TOOL_PROVENANCE,
        },
      ],
    };
    const next: ModelRequest = {
      ...first,
      messages: [
        ...first.messages,
        {
          role: 'assistant',
          parts: [
            {
              type: 'tool_call',
              callId: 'toolu_1',
              toolName: 'lookup',
              arguments: '{"id":"42"}',
              provenance: TRUSTED_AGENT,
            },
          ],
        },
        toolMessage,
      ],
    };
    const newOnly = conservativeTokenCount({ system: '', messages: [toolMessage], tools: [] });
    expect({
      before,
      next: model.estimateInputTokens?.(next),
      changedSystem: model.estimateInputTokens?.({ ...next, system: 'Another prompt.' }),
    }).toEqual({
      before: conservativeTokenCount(first).tokens,
      // 500 reported input (400 + 100 cache reads) + 40 output + the tool result's estimate
      next: 500 + 40 + newOnly.tokens,
      changedSystem: conservativeTokenCount({ ...next, system: 'Another prompt.' }).tokens,
    });
  });
});

describe('startFakeAnthropicServer', () => {
  it('answers 400 like Anthropic when a client sends no anthropic-version header', async () => {
    const server = await serve({ respond: () => ({ text: 'ok' }) });
    const response = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [] }),
    });
    expect([response.status, await response.json()]).toEqual([
      400,
      {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
        request_id: 'req_fake',
      },
    ]);
  });
});
