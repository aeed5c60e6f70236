import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { closer, listenOnLoopback, readBody, retryAfterHeaders, sendJson } from './http-fake.js';
import { timerDelay } from '../core/index.js';

/** The parsed body of `POST /v1/messages` (not validated beyond `model` and `messages`). */
export interface FakeAnthropicRequestBody {
  readonly model: string;
  readonly messages: readonly { readonly role: string; readonly content: unknown }[];
  readonly system?: unknown;
  readonly tools?: readonly Record<string, unknown>[];
  readonly max_tokens?: number;
  readonly stream?: boolean;
  readonly [key: string]: unknown;
}

/** What `respond` sees for one request. */
export interface FakeAnthropicRequest {
  readonly body: FakeAnthropicRequestBody;
  /** 0-based index of this request among the `/v1/messages` requests received. */
  readonly callIndex: number;
  readonly headers: IncomingHttpHeaders;
}

/** A tool call in a fake Anthropic reply. */
export interface FakeToolUse {
  readonly name: string;
  /** The tool input; a string is sent verbatim as streamed `partial_json` (may be malformed). */
  readonly input: Record<string, unknown> | string;
  readonly id?: string;
}

/**
 * Usage to report, in Anthropic's meaning: `inputTokens` EXCLUDES cache reads and writes.
 * Anything left out is estimated from the request and the reply.
 */
export interface FakeAnthropicUsage {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly cacheReadInputTokens?: number;
  readonly cacheCreationInputTokens?: number;
}

/** A normal 200 reply (JSON, or SSE when the request asked to stream). */
export interface FakeAnthropicMessage {
  readonly text?: string;
  readonly toolUses?: readonly FakeToolUse[];
  readonly usage?: FakeAnthropicUsage;
  /** Defaults to `tool_use` when there are tool uses, else `end_turn`. */
  readonly stopReason?: string;
}

/** A failure, sent the way Anthropic sends it. */
export type FakeAnthropicFault =
  | {
      readonly fault: 'rate_limited';
      readonly retryAfterSeconds?: number;
      readonly retryAfterMs?: number;
    }
  /** 529 `overloaded_error`. */
  | { readonly fault: 'overloaded' }
  /** 500 `api_error` (or another 5xx). */
  | { readonly fault: 'server_error'; readonly status?: number }
  /** 400: the prompt exceeds the model's context window. */
  | { readonly fault: 'context_too_long'; readonly promptTokens?: number }
  /** 400: the content filter blocked the output. */
  | { readonly fault: 'content_filtered' }
  /** Any other error status with an Anthropic error body. */
  | {
      readonly fault: 'http_error';
      readonly status: number;
      readonly errorType: string;
      readonly message?: string;
    }
  /** Status 200 and `content-type: application/json`, but the body is `body` (default: cut-off JSON). */
  | { readonly fault: 'malformed_body'; readonly body?: string }
  /** For streaming requests: a 200 stream that sends an `error` event after `message_start`. */
  | { readonly fault: 'stream_error'; readonly errorType?: string }
  /** Never answers; the request ends when the client gives up or the server closes. */
  | { readonly fault: 'hang' }
  /**
   * Starts to answer, then goes silent: status 200 and, streamed, `message_start`; not
   * streamed, the first bytes of the body. The request ends when the client gives up.
   */
  | { readonly fault: 'stall' };

/** What the fake Anthropic server answers one request with: a message or a fault. */
export type FakeAnthropicReply = FakeAnthropicMessage | FakeAnthropicFault;

/** How the fake Anthropic server answers each request. */
export type FakeAnthropicRespond = (
  request: FakeAnthropicRequest,
) => FakeAnthropicReply | Promise<FakeAnthropicReply>;

/** The fake Anthropic server's responder, streaming and port. */
export interface FakeAnthropicServerOptions {
  /** Delay before every answer. */
  readonly latencyMs?: number;
  /** Decides each reply; defaults to a final `done`. */
  readonly respond?: FakeAnthropicRespond;
  /**
   * When set, requests that present another key get Anthropic's 401. The key is read from
   * `x-api-key` or `Authorization: Bearer` (SDK 1.x sends the latter).
   */
  readonly apiKey?: string;
  /**
   * Answers `POST /v1/messages/count_tokens`; defaults to {@link fakeTokenCount}. `false`
   * makes the endpoint answer 404, as a server without it would.
   */
  readonly countTokens?: ((body: FakeAnthropicRequestBody) => number) | false;
}

/** A local server speaking Anthropic's Messages wire protocol, for tests. */
export interface FakeAnthropicServer {
  /** Base URL without `/v1`, as the Anthropic SDK's `baseURL` expects. */
  readonly url: string;
  /** Requests received on `/v1/messages` so far. */
  readonly requests: number;
  /** Requests received on `/v1/messages/count_tokens` so far. */
  readonly countRequests: number;
  /** Stops listening and closes every connection, idle keep-alive and hanging ones included. */
  close(): Promise<void>;
}

/**
 * The fake's own token count: one token per 4 characters of the JSON of system, messages and
 * tools. Deterministic, so tests can compare the adapter's count with it.
 */
export function fakeTokenCount(body: FakeAnthropicRequestBody): number {
  const text = JSON.stringify([body.system ?? '', body.messages, body.tools ?? []]);
  return Math.ceil(text.length / 4);
}

/**
 * Starts an HTTP server on 127.0.0.1 (random port) that speaks the Anthropic Messages wire
 * protocol: JSON replies, SSE streams (`message_start`, `content_block_*`, `message_delta`,
 * `message_stop`, `ping`, `error`), `count_tokens`, and Anthropic's error bodies, statuses and
 * headers, so the real `@anthropic-ai/sdk` and Keel's adapter can be tested without a network.
 *
 * ```ts
 * const server = await startFakeAnthropicServer({ respond: () => ({ fault: 'overloaded' }) });
 * const model = anthropicMessages({ model: 'claude-test', baseURL: server.url, apiKey: 'test' });
 * // ... model.doGenerate(...) throws a ModelCallError of type 'overloaded'
 * await server.close();
 * ```
 */
export async function startFakeAnthropicServer(
  options: FakeAnthropicServerOptions = {},
): Promise<FakeAnthropicServer> {
  const { latencyMs = 0, apiKey } = options;
  const respond: FakeAnthropicRespond = options.respond ?? (() => ({ text: 'done' }));
  const countTokens = options.countTokens ?? fakeTokenCount;
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let countRequests = 0;

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
    const isMessages = path === '/v1/messages';
    const isCount = path === '/v1/messages/count_tokens' && countTokens !== false;
    const count = countTokens === false ? undefined : countTokens;
    if (request.method !== 'POST' || (!isMessages && !isCount)) {
      sendError(response, 404, 'not_found_error', 'Not found');
      return;
    }
    const presented =
      request.headers['x-api-key'] ?? request.headers.authorization?.replace(/^Bearer /, '');
    if (apiKey !== undefined && presented !== apiKey) {
      sendError(response, 401, 'authentication_error', 'invalid x-api-key');
      return;
    }
    if (typeof request.headers['anthropic-version'] !== 'string') {
      sendError(response, 400, 'invalid_request_error', 'anthropic-version: header is required');
      return;
    }
    const body = parseBody(text);
    if (!body) {
      sendError(response, 400, 'invalid_request_error', 'messages: Field required');
      return;
    }
    if (isCount) {
      countRequests += 1;
      sendJson(response, 200, { input_tokens: count?.(body) ?? 0 });
      return;
    }
    const callIndex = requests++;
    if (latencyMs > 0) await wait(latencyMs);

    let reply: FakeAnthropicReply;
    try {
      reply = await respond({ body, callIndex, headers: request.headers });
    } catch (error) {
      sendError(
        response,
        500,
        'api_error',
        `fake server respond() threw: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    sendReply(response, reply, body, callIndex);
  }

  const server = createServer(function fakeAnthropic(request, response) {
    handleRequest(request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get countRequests() {
      return countRequests;
    },
    close: closer(server, timers),
  };
}

function parseBody(text: string): FakeAnthropicRequestBody | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { model, messages } = value as { model?: unknown; messages?: unknown };
  if (typeof model !== 'string' || !Array.isArray(messages)) return undefined;
  return value as FakeAnthropicRequestBody;
}

function sendReply(
  response: ServerResponse,
  reply: FakeAnthropicReply,
  body: FakeAnthropicRequestBody,
  callIndex: number,
): void {
  if (!('fault' in reply)) {
    const message = messageBody(reply, body, callIndex);
    if (body.stream === true) sendStream(response, message, reply);
    else sendJson(response, 200, message);
    return;
  }
  switch (reply.fault) {
    case 'rate_limited': {
      const headers = retryAfterHeaders(reply);
      sendError(
        response,
        429,
        'rate_limit_error',
        'This request would exceed the rate limit for your organization of 50 requests per minute.',
        headers,
      );
      return;
    }
    case 'overloaded':
      sendError(response, 529, 'overloaded_error', 'Overloaded');
      return;
    case 'server_error':
      sendError(response, reply.status ?? 500, 'api_error', 'Internal server error');
      return;
    case 'context_too_long':
      sendError(
        response,
        400,
        'invalid_request_error',
        `prompt is too long: ${reply.promptTokens ?? 210_000} tokens > 200000 maximum`,
      );
      return;
    case 'content_filtered':
      sendError(
        response,
        400,
        'invalid_request_error',
        'Output blocked by content filtering policy',
      );
      return;
    case 'http_error':
      sendError(
        response,
        reply.status,
        reply.errorType,
        reply.message ?? `fake error with status ${reply.status}`,
      );
      return;
    case 'malformed_body': {
      const text = reply.body ?? '{"id":"msg_broken","type":"message","content":[{"ty';
      if (response.destroyed || response.writableEnded) return;
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
      return;
    }
    case 'stream_error': {
      const message = messageBody({ text: '' }, body, callIndex);
      startStream(response);
      writeEvent(response, 'message_start', {
        type: 'message_start',
        message: { ...message, content: [], stop_reason: null },
      });
      writeEvent(response, 'error', {
        type: 'error',
        error: { type: reply.errorType ?? 'overloaded_error', message: 'Overloaded' },
      });
      response.end();
      return;
    }
    case 'hang':
      return;
    case 'stall': {
      if (response.destroyed || response.writableEnded) return;
      if (body.stream === true) {
        const message = messageBody({ text: '' }, body, callIndex);
        startStream(response);
        writeEvent(response, 'message_start', {
          type: 'message_start',
          message: { ...message, content: [], stop_reason: null },
        });
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"id":"msg_stalled","type":"message",');
      }
      return;
    }
    default:
      reply satisfies never;
  }
}

interface MessageBody {
  readonly id: string;
  readonly type: 'message';
  readonly role: 'assistant';
  readonly model: string;
  readonly content: readonly Record<string, unknown>[];
  readonly stop_reason: string;
  readonly stop_sequence: null;
  readonly usage: Record<string, number>;
}

function messageBody(
  reply: FakeAnthropicMessage,
  body: FakeAnthropicRequestBody,
  callIndex: number,
): MessageBody {
  const content: Record<string, unknown>[] = [];
  if (reply.text !== undefined) content.push({ type: 'text', text: reply.text });
  for (const [index, toolUse] of (reply.toolUses ?? []).entries()) {
    content.push({
      type: 'tool_use',
      id: toolUse.id ?? `toolu_fake${callIndex}_${index}`,
      name: toolUse.name,
      // A JSON body can only carry an object; raw text is for the streamed form.
      input: typeof toolUse.input === 'string' ? {} : toolUse.input,
    });
  }
  const outputChars = JSON.stringify(content).length;
  const usage = reply.usage ?? {};
  return {
    id: `msg_fake${callIndex}`,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content,
    stop_reason: reply.stopReason ?? (reply.toolUses?.length ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: usage.inputTokens ?? fakeTokenCount(body),
      output_tokens: usage.outputTokens ?? Math.max(1, Math.ceil(outputChars / 4)),
      cache_creation_input_tokens: usage.cacheCreationInputTokens ?? 0,
      cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
    },
  };
}

/** Streams a message the way Anthropic does, text in small deltas, tool input as JSON text. */
function sendStream(
  response: ServerResponse,
  message: MessageBody,
  reply: FakeAnthropicMessage,
): void {
  if (response.destroyed || response.writableEnded) return;
  startStream(response);
  const { output_tokens: outputTokens, ...inputUsage } = message.usage;
  writeEvent(response, 'message_start', {
    type: 'message_start',
    message: {
      ...message,
      content: [],
      stop_reason: null,
      usage: { ...inputUsage, output_tokens: 1 },
    },
  });
  writeEvent(response, 'ping', { type: 'ping' });
  const toolUses = reply.toolUses ?? [];
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      writeEvent(response, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      for (const piece of chunks(String(block.text), 8)) {
        writeEvent(response, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        });
      }
    } else {
      const toolIndex = index - (reply.text === undefined ? 0 : 1);
      const input = toolUses[toolIndex]?.input ?? {};
      const json = typeof input === 'string' ? input : JSON.stringify(input);
      writeEvent(response, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { ...block, input: {} },
      });
      for (const piece of chunks(json, 10)) {
        writeEvent(response, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        });
      }
    }
    writeEvent(response, 'content_block_stop', { type: 'content_block_stop', index });
  });
  writeEvent(response, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
  writeEvent(response, 'message_stop', { type: 'message_stop' });
  response.end();
}

function chunks(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size)
    pieces.push(text.slice(start, start + size));
  return pieces;
}

function startStream(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': 'req_fake_stream',
  });
}

function writeEvent(response: ServerResponse, event: string, data: unknown): void {
  response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function sendError(
  response: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(
    response,
    status,
    { type: 'error', error: { type, message }, request_id: 'req_fake' },
    { ...headers, 'request-id': 'req_fake' },
  );
}
