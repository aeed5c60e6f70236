import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { closer, listenOnLoopback, readBody, retryAfterHeaders, sendJson } from './http-fake.js';
import { timerDelay } from '../core/index.js';

/** A chat message as the client sent it (parsed JSON, not validated beyond `role`). */
export interface FakeChatMessage {
  readonly role: string;
  readonly [key: string]: unknown;
}

/** The parsed body of `POST /v1/chat/completions`. */
export interface FakeChatRequestBody {
  readonly model: string;
  readonly messages: readonly FakeChatMessage[];
  readonly [key: string]: unknown;
}

/** What `respond` sees for one request. */
export interface FakeChatRequest {
  readonly body: FakeChatRequestBody;
  /** 0-based index of this request among all the server has received. */
  readonly callIndex: number;
  readonly headers: IncomingHttpHeaders;
}

export interface FakeToolCall {
  readonly name: string;
  /** Raw argument text, sent verbatim (it may be malformed on purpose). */
  readonly arguments: string;
  readonly id?: string;
}

/** Usage to report; anything left out is estimated from the request and the reply. */
export interface FakeUsage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly cachedTokens?: number;
  readonly reasoningTokens?: number;
}

/** A normal 200 reply. */
export interface FakeCompletion {
  readonly content?: string;
  readonly toolCalls?: readonly FakeToolCall[];
  readonly usage?: FakeUsage;
  /** Defaults to `tool_calls` when there are tool calls, else `stop`. */
  readonly finishReason?: string;
  /** Streamed replies only: the wait between consecutive events (a slow but live stream). */
  readonly eventIntervalMs?: number;
}

/** A failure, sent the way OpenAI sends it. */
export type FakeFault =
  | {
      readonly fault: 'rate_limited';
      readonly retryAfterSeconds?: number;
      readonly retryAfterMs?: number;
    }
  | { readonly fault: 'server_error'; readonly status?: number }
  /** Any other error status with an OpenAI error body, e.g. 400, 403, 408 or 529. */
  | {
      readonly fault: 'http_error';
      readonly status: number;
      readonly errorType?: string;
      readonly errorCode?: string;
      readonly message?: string;
    }
  /** Status 200 and `content-type: application/json`, but the body is `body` (default: cut-off JSON). */
  | { readonly fault: 'malformed_body'; readonly body?: string }
  /** Never answers; the request ends when the client gives up or the server closes. */
  | { readonly fault: 'hang' }
  /**
   * Starts to answer, then goes silent: status 200 and, streamed, the first event; not
   * streamed, the first bytes of the body. The request ends when the client gives up.
   */
  | { readonly fault: 'stall' };

/** What the fake OpenAI server answers one request with: a completion or a fault. */
export type FakeReply = FakeCompletion | FakeFault;

/** How the fake OpenAI server answers each request. */
export type FakeRespond = (request: FakeChatRequest) => FakeReply | Promise<FakeReply>;

/** The fake OpenAI server's responder, streaming and port. */
export interface FakeOpenAIServerOptions {
  /** Delay before every answer. */
  readonly latencyMs?: number;
  /** Decides each reply; defaults to {@link toolLoopScript} with the two options below. */
  readonly respond?: FakeRespond;
  /** For the default script: tool calls before the final answer. */
  readonly toolCallsPerRun?: number;
  /** For the default script: the tool it calls. */
  readonly toolName?: string;
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401. */
  readonly apiKey?: string;
}

/** A local server speaking OpenAI's Chat Completions wire protocol, for tests. */
export interface FakeOpenAIServer {
  /** Base URL ending in `/v1`, for `openaiChat({ baseURL })`. */
  readonly url: string;
  /** Requests received on `/v1/chat/completions` so far. */
  readonly requests: number;
  /** Stops listening and closes every connection, idle keep-alive and hanging ones included. */
  close(): Promise<void>;
}

/**
 * The default script, deterministic and useful for benchmarks: while the conversation has
 * fewer than `toolCallsPerRun` tool results, call `toolName` with `{"query":"item-<k>"}`
 * (k = tool results so far + 1); then answer `done`.
 *
 * ```ts
 * const server = await startFakeOpenAIServer({ respond: toolLoopScript({ toolCallsPerRun: 2 }) });
 * ```
 */
export function toolLoopScript({
  toolCallsPerRun = 5,
  toolName = 'lookup',
}: { readonly toolCallsPerRun?: number; readonly toolName?: string } = {}): FakeRespond {
  return function toolLoop({ body }) {
    const toolResults = body.messages.filter((message) => message.role === 'tool').length;
    if (toolResults >= toolCallsPerRun) return { content: 'done' };
    return {
      toolCalls: [
        { name: toolName, arguments: JSON.stringify({ query: `item-${toolResults + 1}` }) },
      ],
    };
  };
}

/**
 * Starts an HTTP server on 127.0.0.1 (random port) that speaks the Chat Completions wire
 * protocol, so the real OpenAI SDK and adapter can be tested and benchmarked without a
 * network. Replies come from `respond`; faults reproduce OpenAI's status codes, headers and
 * error bodies.
 *
 * ```ts
 * const server = await startFakeOpenAIServer({ respond: () => ({ fault: 'rate_limited', retryAfterSeconds: 2 }) });
 * const model = openaiChat({ model: 'gpt-test', baseURL: server.url, apiKey: 'test' });
 * // ... model.doGenerate(...) throws a ModelCallError of type 'rate_limited'
 * await server.close();
 * ```
 */
export async function startFakeOpenAIServer(
  options: FakeOpenAIServerOptions = {},
): Promise<FakeOpenAIServer> {
  const { latencyMs = 0, toolCallsPerRun, toolName, apiKey } = options;
  const respond =
    options.respond ??
    toolLoopScript({
      ...(toolCallsPerRun === undefined ? {} : { toolCallsPerRun }),
      ...(toolName === undefined ? {} : { toolName }),
    });
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, timerDelay(ms));
      timers.add(timer);
    });
  }

  async function handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'POST' || path !== '/v1/chat/completions') {
      sendError(response, 404, {
        message: `Invalid URL (${request.method ?? '?'} ${path ?? ''})`,
        type: 'invalid_request_error',
        code: null,
      });
      return;
    }
    const callIndex = requests++;
    if (apiKey !== undefined && request.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(response, 401, {
        message:
          'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      });
      return;
    }
    const body = parseBody(text);
    if (!body) {
      sendError(response, 400, {
        message:
          'We could not parse the JSON body of your request, or it lacks "model" or "messages".',
        type: 'invalid_request_error',
        code: null,
      });
      return;
    }
    if (latencyMs > 0) await wait(latencyMs);

    let reply: FakeReply;
    try {
      reply = await respond({ body, callIndex, headers: request.headers });
    } catch (error) {
      sendError(response, 500, {
        message: `fake server respond() threw: ${error instanceof Error ? error.message : String(error)}`,
        type: 'server_error',
        code: null,
      });
      return;
    }
    await sendReply(response, reply, body, callIndex, wait);
  }

  const server = createServer(function fakeOpenAI(request, response) {
    handleRequest(request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/v1`,
    get requests() {
      return requests;
    },
    close: closer(server, timers),
  };
}

function parseBody(text: string): FakeChatRequestBody | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { model, messages } = value as { model?: unknown; messages?: unknown };
  if (typeof model !== 'string' || !Array.isArray(messages)) return undefined;
  const wellFormed = messages.every(
    (message: unknown) =>
      typeof message === 'object' &&
      message !== null &&
      typeof (message as { role?: unknown }).role === 'string',
  );
  return wellFormed ? (value as FakeChatRequestBody) : undefined;
}

async function sendReply(
  response: ServerResponse,
  reply: FakeReply,
  body: FakeChatRequestBody,
  callIndex: number,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  if (!('fault' in reply)) {
    const completion = completionBody(reply, body, callIndex);
    if (body.stream === true)
      await sendStream(response, completion, body, { intervalMs: reply.eventIntervalMs, wait });
    else sendJson(response, 200, completion);
    return;
  }
  switch (reply.fault) {
    case 'rate_limited': {
      const headers = retryAfterHeaders(reply);
      sendError(
        response,
        429,
        {
          message: `Rate limit reached for ${body.model} on requests per min (RPM): Limit 3, Used 3, Requested 1.`,
          type: 'requests',
          code: 'rate_limit_exceeded',
        },
        headers,
      );
      return;
    }
    case 'server_error':
      sendError(response, reply.status ?? 500, {
        message: 'The server had an error while processing your request. Sorry about that!',
        type: 'server_error',
        code: null,
      });
      return;
    case 'http_error':
      sendError(response, reply.status, {
        message: reply.message ?? `fake error with status ${reply.status}`,
        type: reply.errorType ?? 'invalid_request_error',
        code: reply.errorCode ?? null,
      });
      return;
    case 'malformed_body': {
      const text =
        reply.body ?? '{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"ind';
      if (response.destroyed || response.writableEnded) return;
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
      return;
    }
    case 'hang':
      return;
    case 'stall': {
      if (response.destroyed || response.writableEnded) return;
      if (body.stream === true) {
        response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        const { id, created, model } = completionBody({}, body, callIndex) as {
          id: string;
          created: number;
          model: string;
        };
        response.write(
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
        );
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"id":"chatcmpl-stalled","object":"chat.completion",');
      }
      return;
    }
    default:
      reply satisfies never;
  }
}

function completionBody(
  reply: FakeCompletion,
  body: FakeChatRequestBody,
  callIndex: number,
): Record<string, unknown> {
  const toolCalls = (reply.toolCalls ?? []).map((toolCall, index) => ({
    id: toolCall.id ?? `call_${callIndex}_${index}`,
    type: 'function',
    function: { name: toolCall.name, arguments: toolCall.arguments },
  }));
  const content = reply.content ?? null;
  const outputChars =
    (content ?? '').length +
    toolCalls.reduce(
      (sum, call) => sum + call.function.name.length + call.function.arguments.length,
      0,
    );
  const promptTokens =
    reply.usage?.promptTokens ?? Math.ceil(JSON.stringify(body.messages).length / 4);
  const completionTokens = reply.usage?.completionTokens ?? Math.max(1, Math.ceil(outputChars / 4));
  return {
    id: `chatcmpl-fake${callIndex}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          refusal: null,
          annotations: [],
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'),
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: reply.usage?.cachedTokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: reply.usage?.reasoningTokens ?? 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

interface CompletionBody {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly message: {
      readonly content: string | null;
      readonly tool_calls?: readonly {
        readonly id: string;
        readonly function: { readonly name: string; readonly arguments: string };
      }[];
    };
    readonly finish_reason: string;
  }[];
  readonly usage: unknown;
}

/**
 * Streams a completion as OpenAI does: `chat.completion.chunk` events with text and tool-call
 * argument deltas, the finish reason, a usage chunk when `stream_options.include_usage` is
 * set, then `data: [DONE]`.
 */
async function sendStream(
  response: ServerResponse,
  completion: Record<string, unknown>,
  body: FakeChatRequestBody,
  pacing: { intervalMs: number | undefined; wait: (ms: number) => Promise<void> },
): Promise<void> {
  if (response.destroyed || response.writableEnded) return;
  const { id, created, model, choices, usage } = completion as unknown as CompletionBody;
  const choice = choices[0];
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  const events: string[] = [];
  const chunk = (fields: Record<string, unknown>): void => {
    events.push(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, ...fields })}\n\n`,
    );
  };
  const delta = (value: Record<string, unknown>, finishReason: string | null = null): void => {
    chunk({ choices: [{ index: 0, delta: value, finish_reason: finishReason }] });
  };
  delta({ role: 'assistant', content: '' });
  const content = choice?.message.content ?? '';
  for (let start = 0; start < content.length; start += 8) {
    delta({ content: content.slice(start, start + 8) });
  }
  for (const [index, toolCall] of (choice?.message.tool_calls ?? []).entries()) {
    delta({
      tool_calls: [
        {
          index,
          id: toolCall.id,
          type: 'function',
          function: { name: toolCall.function.name, arguments: '' },
        },
      ],
    });
    const text = toolCall.function.arguments;
    for (let start = 0; start < text.length; start += 10) {
      delta({ tool_calls: [{ index, function: { arguments: text.slice(start, start + 10) } }] });
    }
  }
  delta({}, choice?.finish_reason ?? 'stop');
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) chunk({ choices: [], usage });
  for (const event of events) {
    if ((pacing.intervalMs ?? 0) > 0) await pacing.wait(pacing.intervalMs ?? 0);
    if (response.destroyed) return;
    response.write(event);
  }
  response.end('data: [DONE]\n\n');
}

function sendError(
  response: ServerResponse,
  status: number,
  error: { message: string; type: string; code: string | null },
  headers: Record<string, string> = {},
): void {
  sendJson(response, status, { error: { ...error, param: null } }, headers);
}
