import type { AbortableOptions } from '../core/index.js';
import type { Message, ToolSpec } from './messages.js';

/** What Keel asks of a model on one step. */
export interface ModelRequest {
  readonly system: string;
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens?: number | undefined;
  readonly temperature?: number | undefined;
  readonly seed?: number | undefined;
}

/** Token usage as the provider reported it. `inputTokens` includes cached input tokens. */
export interface ModelUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens?: number | undefined;
  readonly cacheWriteTokens?: number | undefined;
  readonly reasoningTokens?: number | undefined;
}

/** What a model produced: text and/or tool calls (raw argument text, unvalidated). */
export type ModelOutputPart =
  | { readonly type: 'text'; readonly text: string }
  | {
      readonly type: 'tool_call';
      readonly callId: string;
      readonly toolName: string;
      readonly arguments: string;
    };

export const FINISH_REASONS = ['stop', 'tool_calls', 'length', 'content_filter', 'other'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export interface ModelResponse {
  readonly content: readonly ModelOutputPart[];
  readonly usage: ModelUsage;
  readonly finishReason: FinishReason;
  readonly responseId?: string | undefined;
  readonly responseModel?: string | undefined;
}

/** USD per million tokens. */
export interface ModelPrice {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  readonly cacheReadPerMillion?: number | undefined;
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
  /** Pre-flight input token estimate for a request. */
  estimateInputTokens?(request: ModelRequest): number;
  doGenerate(request: ModelRequest, options: AbortableOptions): Promise<ModelResponse>;
}

/** How a model call failed. The type decides whether the engine retries. */
export const MODEL_ERROR_TYPES = [
  'rate_limited',
  'overloaded',
  'server_error',
  'timeout',
  'network',
  'bad_request',
  'authentication',
  'malformed_response',
  'aborted',
] as const;
export type ModelErrorType = (typeof MODEL_ERROR_TYPES)[number];

const RETRYABLE: ReadonlySet<ModelErrorType> = new Set([
  'rate_limited',
  'overloaded',
  'server_error',
  'timeout',
  'network',
  'malformed_response',
]);

const modelErrorMarker = Symbol.for('keel.model_call_error');

/** Thrown by adapters; carries the type, the HTTP status and any retry-after the provider sent. */
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
    super(message, { cause: options.cause });
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

/** Cost in USD of one call, or `null` when the price is unknown. */
export function costOf(usage: ModelUsage, price: ModelPrice | undefined): number | null {
  if (!price) return null;
  const cacheRead = usage.cacheReadTokens ?? 0;
  const cacheReadPrice = price.cacheReadPerMillion ?? price.inputPerMillion;
  const uncachedInput = Math.max(0, usage.inputTokens - cacheRead);
  return (
    (uncachedInput * price.inputPerMillion +
      cacheRead * cacheReadPrice +
      usage.outputTokens * price.outputPerMillion) /
    1_000_000
  );
}
