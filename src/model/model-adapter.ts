import type { AbortableOptions } from '../core/index.js';
import {
  FINISH_REASONS,
  MODEL_ERROR_TYPES,
  type FinishReason,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelUsage,
} from '../journal/index.js';
import type { Message, ToolSpec } from './messages.js';
import type { TokenCount } from './token-count.js';

export {
  FINISH_REASONS,
  MODEL_ERROR_TYPES,
  type FinishReason,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelUsage,
};

/** What Keel asks of a model on one step. */
export interface ModelRequest {
  readonly system: string;
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens?: number | undefined;
  readonly temperature?: number | undefined;
  readonly seed?: number | undefined;
  /**
   * Constrained output: the reply must be JSON matching this schema. Adapters whose provider
   * supports it send it natively (OpenAI `response_format: json_schema`, Anthropic
   * `output_config.format`); the caller still validates every reply and states the schema in
   * the prompt for the others.
   */
  readonly responseSchema?:
    { readonly name: string; readonly schema: Record<string, unknown> } | undefined;
}

/** What a model call returned: text and tool calls, reported usage, and why it finished. */
export interface ModelResponse {
  readonly content: readonly ModelOutputPart[];
  readonly usage: ModelUsage;
  readonly finishReason: FinishReason;
  readonly responseId?: string | undefined;
  readonly responseModel?: string | undefined;
}

/**
 * Options of one model call: its abort signal, and where to report the reply's text as it
 * arrives. An adapter that can stream calls `onTextDelta` with each piece of text in order
 * (their concatenation is the reply's text); usage, finish reason and content settle exactly as
 * without it, in the response `doGenerate` resolves to. Adapters that cannot stream ignore it.
 */
export interface GenerateOptions extends AbortableOptions {
  readonly onTextDelta?: ((text: string) => void) | undefined;
}

/** USD per million tokens of each type. A cache price left out falls back to the input price. */
export interface TokenPrices {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  readonly cacheReadPerMillion?: number | undefined;
  readonly cacheWritePerMillion?: number | undefined;
}

/** A price tier: applies to every token of a call whose input exceeds `aboveInputTokens`. */
export interface PriceTier extends TokenPrices {
  readonly aboveInputTokens: number;
}

/**
 * USD per million tokens, plain data. `tiers` (long-context prices, e.g. above 200k input
 * tokens) replace the base prices for the whole call when its input exceeds the threshold;
 * the highest threshold crossed wins.
 */
export interface ModelPrice extends TokenPrices {
  readonly tiers?: readonly PriceTier[] | undefined;
}

/**
 * The model port. Adapters translate one request into one provider call; they never retry
 * (the engine owns retries) and they report failures by throwing {@link ModelCallError}.
 *
 * ```ts
 * const model: ModelAdapterV1 = simulator({ script: [{ text: 'done' }] });
 * const response = await model.doGenerate(request, { signal });
 * ```
 */
export interface ModelAdapterV1 {
  readonly specificationVersion: 'v1';
  /** `gen_ai.provider.name`: `simulator`, `openai`, `anthropic`, ... */
  readonly provider: string;
  readonly modelId: string;
  /** Known price, used for cost limits; `undefined` means cost is unknown (never assumed 0). */
  readonly price?: ModelPrice | undefined;
  /** The tier this model was chosen for (`fast`, `frontier`, or a custom name). */
  readonly tier?: string | undefined;
  /**
   * Models the engine moves to, in order, when this one fails with a type in
   * {@link FALLBACK_ERROR_TYPES}. Set by `defineModelTiers`.
   */
  readonly fallbacks?: readonly ModelAdapterV1[] | undefined;
  /**
   * Another tier of the set this model came from (`fast` for a `frontier` agent's quarantined
   * reader and planner); `undefined` for a tier the set does not have. Set by
   * `defineModelTiers`.
   */
  readonly sibling?: ((tier: string) => ModelAdapterV1 | undefined) | undefined;
  /**
   * Pre-flight input token count for a request, synchronous: exact with a local tokenizer,
   * else a conservative (over-) estimate.
   */
  estimateInputTokens?(request: ModelRequest): number;
  /**
   * A cheap pre-flight figure for a model whose `estimateInputTokens` is costly (a tokenizer to
   * load and run): `atMost` bounds the exact count from above, `estimate` is a character-based
   * guess. While the bound fits the run's budget the exact count is not taken and the guess is
   * what the journal records; near the budget the exact count decides.
   */
  roughInputTokens?(request: ModelRequest): { readonly estimate: number; readonly atMost: number };
  /**
   * The most exact input token count available, which may ask the provider (Anthropic's
   * count-tokens endpoint). Never throws for an unreachable endpoint: it returns a flagged
   * estimate instead.
   */
  countInputTokens?(request: ModelRequest, options?: AbortableOptions): Promise<TokenCount>;
  /**
   * One call. `options.onTextDelta`, when given, hears the reply's text as it arrives (see
   * {@link GenerateOptions}).
   */
  doGenerate(request: ModelRequest, options: GenerateOptions): Promise<ModelResponse>;
}

const RETRYABLE: ReadonlySet<ModelErrorType> = new Set([
  'rate_limited',
  'overloaded',
  'server_error',
  'timeout',
  'network',
  'malformed_response',
]);

/**
 * Failures after which the next model of a tier's fallback chain is tried: the model itself
 * cannot serve now, while another one may.
 */
export const FALLBACK_ERROR_TYPES: ReadonlySet<ModelErrorType> = new Set([
  'overloaded',
  'unavailable',
  'server_error',
]);

const modelErrorMarker = Symbol.for('keel.model_call_error');

/**
 * The most of a message a `ModelCallError` keeps: a provider's error text goes into the
 * journal and the run's reason, and a broken or hostile server can send megabytes of it.
 */
export const MAX_MODEL_ERROR_MESSAGE = 4_000;

/**
 * The most text (and tool-call arguments) a streamed reply may carry, in characters: some 16
 * times the longest output any provider allows in one call. A stream past it is cut off
 * (`malformed_response`) rather than kept growing until the process runs out of memory; every
 * piece of text moves the call's deadline on, so nothing else would end it.
 */
export const MAX_STREAMED_REPLY_CHARACTERS = 8 * 1024 * 1024;

/**
 * What each part a streamed reply opens (a tool call, a content block) counts against
 * {@link MAX_STREAMED_REPLY_CHARACTERS} besides its text: a reply of endless empty parts is
 * cut off too.
 */
const REPLY_PART_CHARACTERS = 1_024;

/** The error for a streamed reply past {@link MAX_STREAMED_REPLY_CHARACTERS}. */
function replyTooLong(): ModelCallError {
  return new ModelCallError(
    'malformed_response',
    `the streamed reply passed ${MAX_STREAMED_REPLY_CHARACTERS} characters without finishing`,
    { statusCode: 200 },
  );
}

/**
 * What a streamed reply has carried so far, against {@link MAX_STREAMED_REPLY_CHARACTERS}: its
 * text, tool-call ids, names and arguments, and a fixed share for each part it opens. Counting
 * past the bound fails the call (`malformed_response`).
 */
export class ReplySize {
  #characters = 0;

  /** Counts `characters` more, and a part's share when they open one. */
  add(characters: number, opensPart = false): void {
    this.#characters += characters + (opensPart ? REPLY_PART_CHARACTERS : 0);
    if (this.#characters > MAX_STREAMED_REPLY_CHARACTERS) throw replyTooLong();
  }
}

/**
 * How far the adapters read a streamed reply's events (`serverSentEventBatches`): one event as
 * long as a whole reply may be, and a body of eight times that in all. Events that carry
 * nothing counted (pings, reasoning, empty chunks) still move the call's deadline on, so a
 * body that never ends is cut off by its size.
 */
export const STREAMED_REPLY_EVENTS = {
  characters: MAX_STREAMED_REPLY_CHARACTERS,
  total: 8 * MAX_STREAMED_REPLY_CHARACTERS,
  error: replyTooLong,
} as const;

function boundedMessage(message: string): string {
  if (message.length <= MAX_MODEL_ERROR_MESSAGE) return message;
  // Not between the halves of a surrogate pair: a lone half is not valid JSON text for
  // PostgreSQL's jsonb, where the run's reason goes.
  const last = message.charCodeAt(MAX_MODEL_ERROR_MESSAGE - 1);
  const kept =
    last >= 0xd800 && last <= 0xdbff ? MAX_MODEL_ERROR_MESSAGE - 1 : MAX_MODEL_ERROR_MESSAGE;
  return `${message.slice(0, kept)}… (${message.length - kept} more characters)`;
}

/**
 * Thrown by adapters; carries the type, the HTTP status and any retry-after the provider sent.
 * A message over 4,000 characters (a provider's error text can be megabytes) is cut there,
 * saying how much was.
 */
export class ModelCallError extends Error {
  readonly [modelErrorMarker] = true;
  readonly type: ModelErrorType;
  readonly statusCode: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;

  constructor(
    type: ModelErrorType,
    message: string,
    options: {
      statusCode?: number | undefined;
      retryAfterMs?: number | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(boundedMessage(message), { cause: options.cause });
    this.name = 'ModelCallError';
    this.type = type;
    this.statusCode = options.statusCode;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = RETRYABLE.has(type);
  }

  static isInstance(error: unknown): error is ModelCallError {
    return typeof error === 'object' && error !== null && modelErrorMarker in error;
  }
}

/**
 * Fails as `malformed_response` unless every count in a reply's usage is a whole number, 0 or
 * more: a negative or fractional count, summed into a run's usage, would lower what the run
 * has spent and its limits would never be reached. The HTTP adapters check the provider's
 * fields as they read them; this holds for any adapter (the AI SDK's, one written by hand).
 *
 * ```ts
 * checkUsage({ inputTokens: 120, outputTokens: 30 }); // ok
 * checkUsage({ inputTokens: -5_000_000, outputTokens: 1 }); // throws malformed_response
 * ```
 */
export function checkUsage(usage: ModelUsage): void {
  const counts: readonly (keyof ModelUsage)[] = [
    'inputTokens',
    'outputTokens',
    'cacheReadTokens',
    'cacheWriteTokens',
    'reasoningTokens',
  ];
  for (const name of counts) {
    const value = (usage as Partial<Record<keyof ModelUsage, unknown>> | undefined)?.[name];
    const optional = name !== 'inputTokens' && name !== 'outputTokens';
    if (optional && value === undefined) continue;
    if (Number.isSafeInteger(value) && (value as number) >= 0) continue;
    throw new ModelCallError(
      'malformed_response',
      `the reply's usage is not token counts: "${name}" is ${value === undefined ? 'missing' : (JSON.stringify(value) ?? typeof value)}, not a whole number >= 0`,
    );
  }
}

/**
 * Cost in USD of one call from its reported usage, or `null` when the price is unknown (never
 * assumed 0). Cache reads and writes are priced separately; the rest of the input at the input
 * price; a tier whose threshold the input exceeds prices the whole call.
 *
 * ```ts
 * costOf({ inputTokens: 1000, outputTokens: 100, cacheReadTokens: 400 }, { inputPerMillion: 3, outputPerMillion: 15, cacheReadPerMillion: 0.3 });
 * // (600 * 3 + 400 * 0.3 + 100 * 15) / 1e6 = 0.00342
 * ```
 */
export function costOf(usage: ModelUsage, price: ModelPrice | undefined): number | null {
  if (!price) return null;
  const prices = tierFor(price, usage.inputTokens);
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const uncachedInput = Math.max(0, usage.inputTokens - cacheRead - cacheWrite);
  return (
    (uncachedInput * prices.inputPerMillion +
      cacheRead * (prices.cacheReadPerMillion ?? prices.inputPerMillion) +
      cacheWrite * (prices.cacheWritePerMillion ?? prices.inputPerMillion) +
      usage.outputTokens * prices.outputPerMillion) /
    1_000_000
  );
}

function tierFor(price: ModelPrice, inputTokens: number): TokenPrices {
  let chosen: TokenPrices = price;
  let threshold = -1;
  for (const tier of price.tiers ?? []) {
    if (inputTokens > tier.aboveInputTokens && tier.aboveInputTokens > threshold) {
      chosen = tier;
      threshold = tier.aboveInputTokens;
    }
  }
  return chosen;
}
