import type { APIError, OpenAI } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { KeelError } from '../core/index.js';
import type { Message, ToolSpec } from './messages.js';
import {
  ModelCallError,
  ReplySize,
  STREAMED_REPLY_EVENTS,
  type FinishReason,
  type GenerateOptions,
  type ModelAdapterV1,
  type ModelOutputPart,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
  type ModelUsage,
} from './model-adapter.js';
import {
  DEFAULT_MODEL_TIMEOUT_MS,
  callDeadline,
  checkModelTimeout,
  deadlineMessage,
  type CallDeadline,
} from './call-deadline.js';
import { parseRetryAfter } from './retry-after.js';
import { readCompletion, type CompletionUsage } from './openai-completion.js';
import { BODY_READ_BY_KEEL, modelFetch, responseBody } from './model-fetch.js';
import { serverSentEventBatches } from './sse-events.js';
import {
  countRequestTokens,
  countTextTokens,
  roughRequestTokens,
  encodingForModel,
  type OpenAIEncoding,
} from './token-count.js';
import { checkModelPrice } from './price-table.js';

/** Options of the OpenAI Chat Completions adapter: model, key, base URL, streaming, timeout, price. */
export interface OpenAIChatOptions {
  /** The model name sent as `model`, e.g. `gpt-4.1-mini`. */
  readonly model: string;
  /** Base URL of the API, ending in `/v1`. Defaults to OpenAI's; set it for compatible servers. */
  readonly baseURL?: string;
  /** Defaults to the `OPENAI_API_KEY` environment variable. */
  readonly apiKey?: string;
  /** Known price; leave unset when unknown (cost limits then cannot be enforced). */
  readonly price?: ModelPrice;
  /**
   * Deadline for one call, response body included; a streamed reply may take longer as long
   * as it keeps arriving, and ends `timeout` after this long without an event (a stalled
   * stream). Defaults to 60 seconds.
   */
  readonly timeoutMs?: number;
  readonly organization?: string;
  /**
   * Receive the reply as a server-sent event stream (with `stream_options.include_usage`)
   * instead of one JSON body. Unset: streamed when the caller listens for text as it arrives
   * (`onTextDelta`, which a run always does), else one body. `false` never streams.
   */
  readonly stream?: boolean;
}

/** The OpenAI adapter's default `timeoutMs`. */
export const DEFAULT_OPENAI_TIMEOUT_MS = DEFAULT_MODEL_TIMEOUT_MS;

/**
 * A model adapter for the OpenAI Chat Completions API and any server that speaks it (vLLM,
 * Ollama, LiteLLM, ...). It makes exactly one HTTP call per `doGenerate`: the SDK's own
 * retries are off because the engine owns retries. Every failure is thrown as a
 * {@link ModelCallError} whose `type` says whether retrying can help.
 *
 * ```ts
 * const model = openaiChat({ model: 'gpt-4.1-mini', price: { inputPerMillion: 0.4, outputPerMillion: 1.6 } });
 * const local = openaiChat({ model: 'qwen3:8b', baseURL: 'http://localhost:11434/v1', apiKey: 'unused' });
 * ```
 */
export function openaiChat({
  model,
  baseURL,
  apiKey,
  price,
  timeoutMs = DEFAULT_OPENAI_TIMEOUT_MS,
  organization,
  stream,
}: OpenAIChatOptions): ModelAdapterV1 {
  if (typeof model !== 'string' || model.length === 0) {
    throw new KeelError('invalid_config', 'openaiChat: "model" must be a non-empty string');
  }
  checkModelTimeout('openaiChat', timeoutMs);
  checkModelPrice('openaiChat', price);
  const key = apiKey ?? process.env.OPENAI_API_KEY;
  if (key === undefined || key === '') {
    throw new KeelError(
      'invalid_config',
      'openaiChat: no API key; pass "apiKey" or set OPENAI_API_KEY (any non-empty value for servers without auth)',
    );
  }
  // The SDK loads on the first call, so importing Keel stays cheap for runs that never use it.
  let client: Promise<OpenAI> | undefined;
  const encoding = encodingForModel(model);

  return {
    specificationVersion: 'v1',
    provider: 'openai',
    modelId: model,
    price,
    estimateInputTokens: (request) => countRequestTokens(request, encoding).tokens,
    // The tokenizer loads (~1 MB of ranks) only once a request comes near the budget.
    roughInputTokens: roughRequestTokens,
    countInputTokens: (request) => Promise.resolve(countRequestTokens(request, encoding)),
    async doGenerate(
      request: ModelRequest,
      { signal, onTextDelta }: GenerateOptions,
    ): Promise<ModelResponse> {
      if (signal?.aborted) throw new ModelCallError('aborted', 'the model call was aborted');
      const body = toChatCompletionParams(model, request);
      const streamed = stream ?? onTextDelta !== undefined;

      // The SDK's timeout stops at the response headers; this deadline also covers the body.
      const deadline = callDeadline(timeoutMs, signal);
      const requestSignal = deadline.signal;
      let completion: unknown;
      try {
        client ??= createClient({ baseURL, apiKey: key, organization, timeoutMs });
        const sdkClient = await client;
        completion = streamed
          ? await readChatStream(
              await sdkClient.chat.completions
                .create(
                  { ...body, stream: true, stream_options: { include_usage: true } },
                  { signal: requestSignal, fetchOptions: BODY_READ_BY_KEEL },
                )
                .asResponse(),
              await loadSdk(),
              {
                signal: requestSignal,
                extend: () => {
                  deadline.extend();
                },
                onTextDelta,
              },
            )
          : await sdkClient.chat.completions.create(body, { signal: requestSignal });
      } catch (error) {
        throw toModelCallError(error, {
          signal,
          deadline,
          timeoutMs,
          sdk: await loadSdk(),
        });
      } finally {
        deadline.clear();
      }
      return toModelResponse(completion, request, encoding);
    },
  };
}

type OpenAISdk = typeof import('openai');
let sdk: Promise<OpenAISdk> | undefined;

function loadSdk(): Promise<OpenAISdk> {
  sdk ??= import('openai');
  return sdk;
}

async function createClient(options: {
  baseURL: string | undefined;
  apiKey: string;
  organization: string | undefined;
  timeoutMs: number;
}): Promise<OpenAI> {
  const { default: OpenAIClient } = await loadSdk();
  return new OpenAIClient({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    organization: options.organization,
    timeout: options.timeoutMs,
    maxRetries: 0,
    fetch: modelFetch,
  });
}

/**
 * Reads a streamed chat completion from the response body as server-sent events (the SDK's own
 * stream reader costs several times as much CPU per event) and folds its chunks into the shape
 * of a non-streamed completion, so one parser validates both. Tool-call arguments are
 * concatenated as sent. What arrives moves the call's deadline on. An `error` in the stream
 * fails the call as the SDK would, with the provider's error. The events a piece of the body
 * completed are folded together, in one step.
 */
async function readChatStream(
  response: Response,
  { APIError: StreamError }: OpenAISdk,
  call: {
    readonly signal: AbortSignal;
    extend(): void;
    readonly onTextDelta?: ((text: string) => void) | undefined;
  },
): Promise<unknown> {
  const reply = newReply();
  /** Whether any event came, and whether `[DONE]` did. */
  let received = false;
  let done = false;
  const body = responseBody(response);
  if (body) {
    // Read to the body's end rather than leave at `[DONE]`: cancelling a body aborts its request.
    for await (const events of serverSentEventBatches(body, STREAMED_REPLY_EVENTS)) {
      if (done) continue;
      call.extend();
      for (const { event, data } of events) {
        received = true;
        if (data.startsWith('[DONE]')) {
          done = true;
          break;
        }
        const chunk = JSON.parse(data) as (ChatCompletionChunk & { error?: unknown }) | null;
        if (event === 'error' || chunk?.error) {
          // Typed by the status it names, as if the server had answered with it.
          const { status, error } = streamError(chunk as Record<string, unknown> | null);
          throw new StreamError(status, error, undefined, response.headers);
        }
        if (chunk !== null) foldChunk(reply, chunk, call.onTextDelta);
      }
    }
    // A body that ended with neither a finish reason nor `[DONE]` was cut off: half a reply
    // taken whole would be a wrong answer, or a tool call with half its arguments.
    if (received && !done && !reply.finished)
      throw new ModelCallError(
        'malformed_response',
        'the response stream ended before the reply did (no finish reason, no [DONE])',
        { statusCode: 200 },
      );
  }
  // The SDK ends an aborted stream quietly: a reply cut off is a failure, not a short reply.
  call.signal.throwIfAborted();
  // A server that ignores `stream: true` answers one JSON body, which holds no events: an empty
  // reply taken as an answer would count no tokens and say nothing.
  if (reply.chunks === 0)
    throw new ModelCallError(
      'malformed_response',
      'the streamed reply held no events: if this server does not stream, set stream: false',
      { statusCode: 200 },
    );
  const calls = [...reply.toolCalls.entries()]
    .sort(([left], [right]) => left - right)
    .map(([, toolCall]) => ({
      id: toolCall.id,
      function: { name: toolCall.name, arguments: toolCall.arguments },
    }));
  return {
    id: reply.id,
    model: reply.model,
    choices: [
      {
        message: { content: reply.content === '' ? null : reply.content, tool_calls: calls },
        finish_reason: reply.finishReason,
      },
    ],
    usage: reply.usage,
  };
}

/**
 * An error sent inside a stream as the SDK's error takes it (a bare text becomes its message),
 * and the HTTP status it stands for.
 */
function streamError(chunk: Record<string, unknown> | null): {
  status: number;
  error: Record<string, unknown>;
} {
  const sent: unknown = chunk?.error ?? chunk;
  const error =
    typeof sent === 'object' && sent !== null
      ? (sent as Record<string, unknown>)
      : { message: String(sent) };
  return { status: streamErrorStatus(error, chunk?.error_type), error };
}

/**
 * The status an in-stream error names (`code` or `status`, as OpenRouter, vLLM and others
 * send), unless its kind says otherwise (a quota spent is not a rate limit); else one its
 * `type`, `code` or TGI's `error_type` implies. A server failing after it answered 200 is a
 * server error unless it says otherwise.
 */
function streamErrorStatus(fields: Record<string, unknown>, errorType: unknown): number {
  const kind = [fields.type, fields.code, errorType]
    .filter((value) => typeof value === 'string')
    .join(' ')
    .toLowerCase();
  if (kind.includes('insufficient_quota')) return 400;
  for (const field of [fields.code, fields.status]) {
    const status = typeof field === 'string' ? Number(field) : field;
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 600)
      return status;
  }
  if (kind.includes('rate_limit')) return 429;
  if (kind.includes('overloaded')) return 529;
  if (kind.includes('not_found')) return 404;
  if (kind.includes('permission')) return 403;
  if (kind.includes('authentication') || kind.includes('invalid_api_key')) return 401;
  if (
    kind.includes('context_length') ||
    kind.includes('invalid_request') ||
    kind.includes('validation')
  )
    return 400;
  return 500;
}

/** A streamed reply as its chunks have built it so far. */
interface StreamedReply {
  /** Chunks folded in. */
  chunks: number;
  /** What its text and tool calls have carried so far. */
  readonly size: ReplySize;
  id: string | undefined;
  model: string | undefined;
  content: string;
  finishReason: string | null;
  /** Whether any choice has finished. */
  finished: boolean;
  usage: ChatCompletionChunk['usage'];
  readonly toolCalls: Map<number, { id: string; name: string; arguments: string }>;
}

function newReply(): StreamedReply {
  return {
    chunks: 0,
    size: new ReplySize(),
    id: undefined,
    model: undefined,
    content: '',
    finishReason: null,
    finished: false,
    usage: undefined,
    toolCalls: new Map(),
  };
}

/** Adds one chunk to `reply`; its text goes to `onTextDelta` as it comes. */
function foldChunk(
  reply: StreamedReply,
  chunk: ChatCompletionChunk,
  onTextDelta: ((text: string) => void) | undefined,
): void {
  reply.chunks += 1;
  reply.id ??= chunk.id;
  reply.model ??= chunk.model;
  if (chunk.usage) reply.usage = chunk.usage;
  if (chunk.choices.some((each) => each.finish_reason)) reply.finished = true;
  const [choice] = chunk.choices;
  if (!choice) return;
  if (choice.delta.content) {
    reply.size.add(choice.delta.content.length);
    reply.content += choice.delta.content;
    onTextDelta?.(choice.delta.content);
  }
  for (const delta of choice.delta.tool_calls ?? []) {
    const known = reply.toolCalls.get(delta.index);
    const name = delta.function?.name ?? '';
    const args = delta.function?.arguments ?? '';
    reply.size.add((delta.id?.length ?? 0) + name.length + args.length, known === undefined);
    const toolCall = known ?? { id: '', name: '', arguments: '' };
    if (delta.id) toolCall.id = delta.id;
    toolCall.name += name;
    toolCall.arguments += args;
    reply.toolCalls.set(delta.index, toolCall);
  }
  if (choice.finish_reason) reply.finishReason = choice.finish_reason;
}

/** Translates a Keel request into Chat Completions parameters. */
function toChatCompletionParams(
  model: string,
  request: ModelRequest,
): ChatCompletionCreateParamsNonStreaming {
  const messages: ChatCompletionMessageParam[] = [];
  if (request.system.length > 0) messages.push({ role: 'system', content: request.system });
  for (const message of request.messages) messages.push(...toChatMessages(message));

  const params: ChatCompletionCreateParamsNonStreaming = { model, messages };
  // OpenAI rejects an empty `tools` array, so it is left out when there are no tools.
  if (request.tools.length > 0) params.tools = request.tools.map(toChatTool);
  if (request.maxOutputTokens !== undefined) params.max_completion_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) params.temperature = request.temperature;
  // Deprecated by OpenAI but still honoured on a best-effort basis, and by compatible servers.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  if (request.seed !== undefined) params.seed = request.seed;
  if (request.responseSchema) {
    // Not `strict`: strict mode refuses schemas with optional properties or open objects,
    // which zod schemas often have; the caller validates every reply anyway.
    params.response_format = {
      type: 'json_schema',
      json_schema: { name: request.responseSchema.name, schema: request.responseSchema.schema },
    };
  }
  return params;
}

/**
 * One Keel message becomes one or more chat messages: an assistant message carries its text
 * and tool calls; each tool result becomes its own `role: 'tool'` message, followed by any
 * text as a user message.
 */
function toChatMessages(message: Message): ChatCompletionMessageParam[] {
  const texts: string[] = [];
  const toolCalls: ChatCompletionMessageFunctionToolCall[] = [];
  const toolMessages: ChatCompletionMessageParam[] = [];
  for (const part of message.parts) {
    switch (part.type) {
      case 'text':
        texts.push(part.text);
        break;
      case 'tool_call':
        toolCalls.push({
          id: part.callId,
          type: 'function',
          function: { name: part.toolName, arguments: part.arguments },
        });
        break;
      case 'tool_result':
        toolMessages.push({ role: 'tool', tool_call_id: part.callId, content: part.content });
        break;
      default:
        part satisfies never;
    }
  }
  const text = texts.join('\n\n');

  if (message.role === 'assistant') {
    const assistant: ChatCompletionMessageParam = {
      role: 'assistant',
      content: texts.length > 0 ? text : null,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    };
    return [assistant, ...toolMessages];
  }
  if (toolCalls.length > 0) {
    throw new ModelCallError(
      'bad_request',
      `a tool_call part can only appear in an assistant message, not in a ${message.role} message`,
    );
  }
  return texts.length > 0 ? [...toolMessages, { role: 'user', content: text }] : toolMessages;
}

function toChatTool(tool: ToolSpec): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  };
}

const FINISH_REASON_MAP: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  length: 'length',
  content_filter: 'content_filter',
};

/** Translates a completion back; anything that is not a completion is `malformed_response`. */
function toModelResponse(
  completion: unknown,
  request: ModelRequest,
  encoding: OpenAIEncoding,
): ModelResponse {
  const { id, model, choices, usage } = readCompletion(completion);
  const [choice] = choices;

  const content: ModelOutputPart[] = [];
  const text = choice.message.content ?? choice.message.refusal;
  if (text) content.push({ type: 'text', text });
  for (const [index, toolCall] of (choice.message.tool_calls ?? []).entries()) {
    const { name, arguments: rawArguments } = toolCall.function;
    content.push({
      type: 'tool_call',
      callId: toolCall.id || `${id ?? 'call'}_${index}`,
      toolName: name,
      arguments: typeof rawArguments === 'string' ? rawArguments : JSON.stringify(rawArguments),
    });
  }

  return {
    content,
    usage: usage ? toModelUsage(usage) : countedUsage(request, content, encoding),
    finishReason: FINISH_REASON_MAP[choice.finish_reason ?? ''] ?? 'other',
    responseId: id ?? undefined,
    responseModel: model ?? undefined,
  };
}

function toModelUsage(usage: CompletionUsage): ModelUsage {
  const result: { -readonly [Key in keyof ModelUsage]: ModelUsage[Key] } = {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
  };
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') result.cacheReadTokens = cached;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (typeof reasoning === 'number') result.reasoningTokens = reasoning;
  return result;
}

/** Some compatible servers omit `usage`; counting keeps token and cost limits meaningful. */
function countedUsage(
  request: ModelRequest,
  content: readonly ModelOutputPart[],
  encoding: OpenAIEncoding,
): ModelUsage {
  let outputTokens = 0;
  for (const part of content) {
    outputTokens += countTextTokens(
      part.type === 'text' ? part.text : part.toolName + part.arguments,
      encoding,
    );
  }
  return { inputTokens: countRequestTokens(request, encoding).tokens, outputTokens };
}

/** Classifies any failure of the SDK call. */
function toModelCallError(
  error: unknown,
  context: {
    signal: AbortSignal | undefined;
    deadline: CallDeadline;
    timeoutMs: number;
    sdk: OpenAISdk;
  },
): ModelCallError {
  const { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError, OpenAIError } =
    context.sdk;
  // A cut-off call may surface as anything (a stream that just ends): the cause decides.
  if (context.signal?.aborted) {
    return new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
  if (context.deadline.expired) {
    return new ModelCallError('timeout', deadlineMessage(context.deadline, context.timeoutMs), {
      cause: error,
    });
  }
  if (ModelCallError.isInstance(error)) return error;
  if (isStatusError(error, context.sdk)) return fromStatus(error, error.status);
  if (error instanceof APIConnectionTimeoutError) {
    return new ModelCallError('timeout', deadlineMessage(context.deadline, context.timeoutMs), {
      cause: error,
    });
  }
  if (error instanceof APIUserAbortError) {
    return new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new ModelCallError('network', `connection failed: ${error.message}`, { cause: error });
  }
  // A 200 whose body claims to be JSON but is not: `response.json()` throws a SyntaxError.
  if (error instanceof SyntaxError) {
    return new ModelCallError('malformed_response', `the response body is not valid JSON`, {
      statusCode: 200,
      cause: error,
    });
  }
  if (error instanceof OpenAIError) {
    return new ModelCallError('bad_request', `openai client error: ${error.message}`, {
      cause: error,
    });
  }
  // What is left is the body stream failing mid-read (socket reset, "terminated").
  const message = error instanceof Error ? error.message : String(error);
  return new ModelCallError('network', `reading the response failed: ${message}`, { cause: error });
}

/** An error the server answered with: it has a status (connection errors do not). */
function isStatusError(
  error: unknown,
  { APIError: StatusError }: OpenAISdk,
): error is APIError<number> {
  return error instanceof StatusError && typeof error.status === 'number';
}

function fromStatus(error: APIError, statusCode: number): ModelCallError {
  const options = { statusCode, retryAfterMs: parseRetryAfter(error.headers), cause: error };
  const message = `openai responded ${error.message}`;
  if (statusCode === 529 || mentionsOverloaded(error)) {
    return new ModelCallError('overloaded', message, options);
  }
  if (statusCode === 429) {
    // Out of credits is also a 429, but waiting does not fix it.
    if (error.code === 'insufficient_quota')
      return new ModelCallError('bad_request', message, options);
    return new ModelCallError('rate_limited', message, options);
  }
  if (statusCode === 408) return new ModelCallError('timeout', message, options);
  if (error.code === 'context_length_exceeded' || error.code === 'string_above_max_length') {
    return new ModelCallError('context_too_long', message, options);
  }
  if (error.code === 'content_filter' || error.code === 'content_policy_violation') {
    return new ModelCallError('content_filtered', message, options);
  }
  if (statusCode === 404 && error.code === 'model_not_found') {
    return new ModelCallError('unavailable', message, options);
  }
  if (statusCode >= 500) return new ModelCallError('server_error', message, options);
  if (statusCode === 401 || statusCode === 403) {
    return new ModelCallError('authentication', message, options);
  }
  if (statusCode >= 400) return new ModelCallError('bad_request', message, options);
  return new ModelCallError('server_error', `unexpected status: ${message}`, options);
}

function mentionsOverloaded(error: APIError): boolean {
  return [error.type, error.code].some(
    (value) => typeof value === 'string' && value.toLowerCase().includes('overloaded'),
  );
}
