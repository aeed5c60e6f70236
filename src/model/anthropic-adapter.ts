import type { Anthropic } from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  JSONOutputFormat,
  MessageCreateParamsNonStreaming,
  MessageParam,
  RawMessageStreamEvent,
  TextBlockParam,
  Tool,
} from '@anthropic-ai/sdk/resources/messages';
import { KeelError, type AbortableOptions } from '../core/index.js';
import { anchoredEstimates } from './anchored-estimate.js';
import { toModelCallError } from './anthropic-errors.js';
import { accumulateStream, toModelResponse } from './anthropic-response.js';
import {
  DEFAULT_MODEL_TIMEOUT_MS,
  callDeadline,
  checkModelTimeout,
  type CallDeadline,
} from './call-deadline.js';
import type { Message, ToolSpec } from './messages.js';
import {
  ModelCallError,
  STREAMED_REPLY_EVENTS,
  type GenerateOptions,
  type ModelAdapterV1,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
} from './model-adapter.js';
import { BODY_READ_BY_KEEL, modelFetch, responseBody } from './model-fetch.js';
import { serverSentEventBatches } from './sse-events.js';
import { conservativeTokenCount, type TokenCount } from './token-count.js';
import { checkModelPrice } from './price-table.js';

/** Options of the Anthropic Messages adapter: model, key, base URL, streaming, prompt caching, timeout. */
export interface AnthropicMessagesOptions {
  /** The model name sent as `model`, e.g. `claude-sonnet-4-6`. */
  readonly model: string;
  /** Base URL of the API, without `/v1`. Defaults to Anthropic's. */
  readonly baseURL?: string;
  /** Defaults to the `ANTHROPIC_API_KEY` environment variable. */
  readonly apiKey?: string;
  /** Known price; leave unset when unknown (cost limits then cannot be enforced). */
  readonly price?: ModelPrice;
  /**
   * Deadline for one call, response body included; a streamed reply may take longer as long
   * as it keeps arriving, and ends `timeout` after this long without an event (a stalled
   * stream). Defaults to 60 seconds.
   */
  readonly timeoutMs?: number;
  /** `max_tokens` when the request sets no `maxOutputTokens` (Anthropic requires one). */
  readonly defaultMaxOutputTokens?: number;
  /**
   * Receive the reply as a server-sent event stream instead of one JSON body. Unset: streamed
   * when the caller listens for text as it arrives (`onTextDelta`, which a run always does),
   * else one body. `false` never streams.
   */
  readonly stream?: boolean;
  /**
   * Mark the system prompt (the agent's pinned instructions) with `cache_control` so repeated
   * steps read it from Anthropic's prompt cache. On by default.
   */
  readonly cacheSystemPrompt?: boolean;
  /**
   * Also mark the end of the conversation with `cache_control`, so each step reads the
   * previous steps from the cache and writes only what is new. Pays the cache-write price on
   * the new part of every step; off by default.
   */
  readonly cacheConversation?: boolean;
}

export const DEFAULT_ANTHROPIC_TIMEOUT_MS = DEFAULT_MODEL_TIMEOUT_MS;
const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/**
 * A model adapter for the Anthropic Messages API, through the official SDK with its retries
 * (`maxRetries: 0`) and its own tracing (`openTelemetry: false`) off: the engine owns retries
 * and Keel emits its own spans. One HTTP call per `doGenerate`; every failure is a
 * {@link ModelCallError}. Usage is normalised: `inputTokens` includes cache reads and writes,
 * which Anthropic reports apart.
 *
 * ```ts
 * const model = anthropicMessages({ model: 'claude-sonnet-4-6' }); // ANTHROPIC_API_KEY
 * const streaming = anthropicMessages({ model: 'claude-haiku-4-5', stream: true });
 * ```
 */
export function anthropicMessages({
  model,
  baseURL,
  apiKey,
  price,
  timeoutMs = DEFAULT_ANTHROPIC_TIMEOUT_MS,
  defaultMaxOutputTokens = DEFAULT_MAX_OUTPUT_TOKENS,
  stream,
  cacheSystemPrompt = true,
  cacheConversation = false,
}: AnthropicMessagesOptions): ModelAdapterV1 {
  if (typeof model !== 'string' || model.length === 0) {
    throw new KeelError('invalid_config', 'anthropicMessages: "model" must be a non-empty string');
  }
  checkModelTimeout('anthropicMessages', timeoutMs);
  checkModelPrice('anthropicMessages', price);
  if (!Number.isSafeInteger(defaultMaxOutputTokens) || defaultMaxOutputTokens <= 0) {
    throw new KeelError(
      'invalid_config',
      'anthropicMessages: "defaultMaxOutputTokens" must be a positive integer',
    );
  }
  const key = apiKey ?? process.env.ANTHROPIC_API_KEY;
  if (key === undefined || key === '') {
    throw new KeelError(
      'invalid_config',
      'anthropicMessages: no API key; pass "apiKey" or set ANTHROPIC_API_KEY',
    );
  }
  // The SDK loads on the first call, so importing Keel stays cheap for runs that never use it.
  let client: Promise<Anthropic> | undefined;
  const estimates = anchoredEstimates();
  const getClient = (): Promise<Anthropic> => {
    client ??= createClient({ baseURL, apiKey: key, timeoutMs });
    return client;
  };
  const toParams = (
    request: ModelRequest,
    outputFormat?: JSONOutputFormat,
  ): MessageCreateParamsNonStreaming =>
    toMessageParams(model, request, {
      defaultMaxOutputTokens,
      cacheSystemPrompt,
      cacheConversation,
      outputFormat,
    });

  /** Runs one SDK call under the adapter's deadline and maps any failure. */
  async function call<T>(
    signal: AbortSignal | undefined,
    run: (sdkClient: Anthropic, requestSignal: AbortSignal, deadline: CallDeadline) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) throw new ModelCallError('aborted', 'the model call was aborted');
    // The SDK's timeout stops at the response headers; this deadline also covers the body.
    const deadline = callDeadline(timeoutMs, signal);
    const requestSignal = deadline.signal;
    try {
      return await run(await getClient(), requestSignal, deadline);
    } catch (error) {
      throw toModelCallError(error, { signal, deadline, timeoutMs, sdk: await loadSdk() });
    } finally {
      deadline.clear();
    }
  }

  return {
    specificationVersion: 'v1',
    provider: 'anthropic',
    modelId: model,
    price,
    estimateInputTokens: (request) => estimates.estimate(request),
    async countInputTokens(request, { signal }: AbortableOptions = {}): Promise<TokenCount> {
      const { system, messages, tools } = toParams(request);
      try {
        const counted = await call(signal, (sdkClient, requestSignal) =>
          sdkClient.messages.countTokens(
            {
              model,
              messages,
              ...(system === undefined ? {} : { system }),
              ...(tools ? { tools } : {}),
            },
            { signal: requestSignal },
          ),
        );
        return { tokens: counted.input_tokens, method: 'provider', exact: true };
      } catch (error) {
        if (ModelCallError.isInstance(error) && error.type === 'aborted') throw error;
        // Unreachable or unsupported (e.g. a proxy without the endpoint): flagged estimate.
        return conservativeTokenCount(request);
      }
    },
    async doGenerate(
      request: ModelRequest,
      { signal, onTextDelta }: GenerateOptions,
    ): Promise<ModelResponse> {
      const params = toParams(request, await outputFormatOf(request));
      let response: ModelResponse;
      if (stream ?? onTextDelta !== undefined) {
        response = await call(signal, async (sdkClient, requestSignal, deadline) => {
          const events = messageEvents(
            await sdkClient.messages
              .create(
                { ...params, stream: true },
                { signal: requestSignal, fetchOptions: BODY_READ_BY_KEEL },
              )
              .asResponse(),
            await loadSdk(),
          );
          return accumulateStream(
            events,
            () => {
              deadline.extend();
            },
            onTextDelta,
          );
        });
      } else {
        const message = await call(signal, (sdkClient, requestSignal) =>
          sdkClient.messages.create(params, { signal: requestSignal }),
        );
        response = toModelResponse(message);
      }
      estimates.record(request, response.usage);
      return response;
    },
  };
}

/**
 * The events of a streamed message, read from the response body as server-sent events (the
 * SDK's own stream reader costs more CPU than the rest of the call). `ping`s are skipped; an
 * `error` event fails the call as the SDK would, with the provider's error.
 */
async function* messageEvents(
  response: Response,
  { APIError: StreamError }: AnthropicSdk,
): AsyncGenerator<RawMessageStreamEvent> {
  const stream = responseBody(response);
  if (!stream) return;
  for await (const events of serverSentEventBatches(stream, STREAMED_REPLY_EVENTS)) {
    for (const { event, data } of events) {
      if (event === 'ping' || event === null) continue;
      if (event === 'error') {
        let body: unknown = data;
        try {
          body = JSON.parse(data);
        } catch {
          // Not JSON: the provider's text is the error.
        }
        const type = (body as { error?: { type?: ErrorType } } | undefined)?.error?.type;
        throw new StreamError(undefined, body as object, undefined, response.headers, type);
      }
      yield JSON.parse(data) as RawMessageStreamEvent;
    }
  }
}

type AnthropicSdk = typeof import('@anthropic-ai/sdk');
type ErrorType = NonNullable<ConstructorParameters<AnthropicSdk['APIError']>[4]>;
let sdk: Promise<AnthropicSdk> | undefined;

function loadSdk(): Promise<AnthropicSdk> {
  sdk ??= import('@anthropic-ai/sdk');
  return sdk;
}

/**
 * The request's `responseSchema` as Anthropic's native structured output
 * (`output_config.format`), made strict the way the SDK's own helpers make it (constraints the
 * API does not enforce move into descriptions). A schema it cannot express is left to the
 * prompt and the caller's validation.
 */
async function outputFormatOf(request: ModelRequest): Promise<JSONOutputFormat | undefined> {
  if (!request.responseSchema) return undefined;
  const { transformJSONSchema } = await import('@anthropic-ai/sdk/lib/transform-json-schema');
  try {
    return { type: 'json_schema', schema: transformJSONSchema(request.responseSchema.schema) };
  } catch {
    return undefined;
  }
}

async function createClient(options: {
  baseURL: string | undefined;
  apiKey: string;
  timeoutMs: number;
}): Promise<Anthropic> {
  const { default: AnthropicClient } = await loadSdk();
  return new AnthropicClient({
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: 0,
    fetch: modelFetch,
    // Keel emits provider-neutral `chat {model}` spans; the SDK's own would trace each call twice.
    openTelemetry: false,
  });
}

/** Translates a Keel request into Messages API parameters. */
export function toMessageParams(
  model: string,
  request: ModelRequest,
  options: {
    defaultMaxOutputTokens: number;
    cacheSystemPrompt: boolean;
    cacheConversation: boolean;
    /** Native structured output: the reply is JSON matching this schema. */
    outputFormat?: JSONOutputFormat | undefined;
  },
): MessageCreateParamsNonStreaming {
  const messages = mergeTurns(request.messages.map(toMessageParam));
  const last = messages.at(-1);
  if (options.cacheConversation && last) {
    const blocks = asBlocks(last.content);
    const final = blocks.at(-1);
    if (final) {
      blocks[blocks.length - 1] = {
        ...final,
        cache_control: { type: 'ephemeral' },
      } as ContentBlockParam;
      messages[messages.length - 1] = { role: last.role, content: blocks };
    }
  }
  const params: MessageCreateParamsNonStreaming = {
    model,
    max_tokens: request.maxOutputTokens ?? options.defaultMaxOutputTokens,
    messages,
  };
  if (request.system.length > 0) {
    const block: TextBlockParam = { type: 'text', text: request.system };
    if (options.cacheSystemPrompt) block.cache_control = { type: 'ephemeral' };
    params.system = [block];
  }
  if (request.tools.length > 0) params.tools = request.tools.map(toTool);
  if (options.outputFormat) params.output_config = { format: options.outputFormat };
  // The Messages API of SDK 1.x takes no `temperature` or `seed`: sampling is the model's own.
  return params;
}

/** Keel's `tool` role carries tool results, which Anthropic takes inside a user turn. */
type TurnParam = MessageParam & { readonly role: 'user' | 'assistant' };

function toMessageParam(message: Message): TurnParam {
  const content: ContentBlockParam[] = [];
  for (const part of message.parts) {
    switch (part.type) {
      case 'text':
        if (part.text.length > 0) content.push({ type: 'text', text: part.text });
        break;
      case 'tool_call':
        if (message.role !== 'assistant') {
          throw new ModelCallError(
            'bad_request',
            `a tool_call part can only appear in an assistant message, not in a ${message.role} message`,
          );
        }
        content.push({
          type: 'tool_use',
          id: part.callId,
          name: part.toolName,
          input: toolInput(part.arguments),
        });
        break;
      case 'tool_result':
        content.push({
          type: 'tool_result',
          tool_use_id: part.callId,
          content: part.content,
          ...(part.isError ? { is_error: true } : {}),
        });
        break;
      default:
        part satisfies never;
    }
  }
  return { role: message.role === 'assistant' ? 'assistant' : 'user', content };
}

/**
 * Anthropic wants `tool_use.input` as an object. Arguments the model sent malformed were
 * already rejected and fed back as a typed error; the call is replayed with an empty input so
 * the conversation stays well-formed.
 */
function toolInput(rawArguments: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(rawArguments);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Fall through: the empty input below.
  }
  return {};
}

/** Anthropic requires alternating turns: consecutive turns of one role become one. */
function mergeTurns(messages: readonly TurnParam[]): TurnParam[] {
  const merged: TurnParam[] = [];
  for (const message of messages) {
    const previous = merged.at(-1);
    if (previous && previous.role === message.role) {
      merged[merged.length - 1] = {
        role: message.role,
        content: [...asBlocks(previous.content), ...asBlocks(message.content)],
      };
    } else {
      merged.push(message);
    }
  }
  return merged;
}

function asBlocks(content: TurnParam['content']): ContentBlockParam[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : [...content];
}

function toTool(tool: ToolSpec): Tool {
  return {
    name: tool.name,
    description: tool.description,
    input_schema: { type: 'object', ...tool.inputSchema },
  };
}
