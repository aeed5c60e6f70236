import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3FunctionTool,
  LanguageModelV3GenerateResult,
  LanguageModelV3Message,
  LanguageModelV3StreamPart,
} from '@ai-sdk/provider';
import { KeelError, untilAborted } from '../core/index.js';
import {
  DEFAULT_MODEL_TIMEOUT_MS,
  callDeadline,
  checkModelTimeout,
  deadlineMessage,
} from './call-deadline.js';
import type { Message } from './messages.js';
import {
  ModelCallError,
  type FinishReason,
  type GenerateOptions,
  type ModelAdapterV1,
  type ModelOutputPart,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
  type ModelUsage,
} from './model-adapter.js';
import { parseRetryAfter } from './retry-after.js';
import { conservativeTokenCount } from './token-count.js';
import { checkModelPrice } from './price-table.js';

/** How an AI SDK language model is wrapped as a Keel model. */
export interface AiSdkModelOptions {
  /** Known price; leave unset when unknown (cost limits then cannot be enforced). */
  readonly price?: ModelPrice;
  /**
   * Deadline for one call: past it the call is aborted and ends `timeout`, even when the
   * wrapped model ignores its abort signal. Defaults to 60 seconds.
   */
  readonly timeoutMs?: number;
  /**
   * Call the model's `doStream` when the caller listens for text as it arrives (a run always
   * does), so its text reaches a run's stream as it comes. Off by default: some providers report
   * usage on a stream only when told to (`includeUsage: true` on `@ai-sdk/openai-compatible`),
   * and a call without usage would count no tokens against the run's limits.
   */
  readonly stream?: boolean;
}

/**
 * Runs any Vercel AI SDK v6 language model (a `LanguageModelV3` from `@ai-sdk/*` providers)
 * behind Keel's model port: one `doGenerate` per call, with the provider SDK's own call and
 * none of `generateText`'s retries (the engine owns retries). The AI SDK is an optional peer:
 * Keel never imports it, it only calls the model object it is given.
 *
 * ```ts
 * import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
 * const provider = createOpenAICompatible({ name: 'ollama', baseURL: 'http://127.0.0.1:11434/v1' });
 * const model = aiSdkModel(provider.chatModel('llama3.1'));
 * ```
 */
export function aiSdkModel(
  languageModel: LanguageModelV3,
  { price, timeoutMs = DEFAULT_MODEL_TIMEOUT_MS, stream = false }: AiSdkModelOptions = {},
): ModelAdapterV1 {
  checkModelTimeout('aiSdkModel', timeoutMs);
  checkModelPrice('aiSdkModel', price);
  const candidate = languageModel as Partial<LanguageModelV3> | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate.specificationVersion !== 'v3' ||
    typeof candidate.doGenerate !== 'function'
  ) {
    throw new KeelError(
      'invalid_config',
      'aiSdkModel: expected an AI SDK v6 language model (specificationVersion "v3")',
    );
  }
  return {
    specificationVersion: 'v1',
    // `openai.chat`, `anthropic.messages`, ...: the provider part names the vendor.
    provider: languageModel.provider.split('.')[0] ?? languageModel.provider,
    modelId: languageModel.modelId,
    price,
    estimateInputTokens: (request) => conservativeTokenCount(request).tokens,
    async doGenerate(
      request: ModelRequest,
      { signal, onTextDelta }: GenerateOptions,
    ): Promise<ModelResponse> {
      if (signal?.aborted) throw new ModelCallError('aborted', 'the model call was aborted');
      let result: GeneratedResult;
      const deadline = callDeadline(timeoutMs, signal);
      const callSignal = deadline.signal;
      try {
        // Raced with the deadline: a model that ignores its abort signal cannot hold the call.
        const callOptions = toCallOptions(request, callSignal);
        result = await untilAborted(
          stream && onTextDelta
            ? collectStream(languageModel, callOptions, onTextDelta, () => {
                deadline.extend();
              })
            : Promise.resolve(languageModel.doGenerate(callOptions)),
          callSignal,
        );
      } catch (error) {
        if (!signal?.aborted && deadline.expired) {
          throw new ModelCallError('timeout', deadlineMessage(deadline, timeoutMs), {
            cause: error,
          });
        }
        throw toModelCallError(error, signal);
      } finally {
        deadline.clear();
      }
      return toModelResponse(result);
    },
  };
}

function toCallOptions(
  request: ModelRequest,
  signal: AbortSignal | undefined,
): LanguageModelV3CallOptions {
  const prompt: LanguageModelV3Message[] = [];
  if (request.system.length > 0) prompt.push({ role: 'system', content: request.system });
  for (const message of request.messages) prompt.push(...toMessages(message));
  const tools: LanguageModelV3FunctionTool[] = request.tools.map((tool) => ({
    type: 'function',
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
  }));
  return {
    prompt,
    ...(tools.length > 0 ? { tools } : {}),
    ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(signal ? { abortSignal: signal } : {}),
  };
}

function toMessages(message: Message): LanguageModelV3Message[] {
  if (message.role === 'assistant') {
    const content: AssistantContent = [];
    for (const part of message.parts) {
      if (part.type === 'text') content.push({ type: 'text', text: part.text });
      if (part.type === 'tool_call') {
        content.push({
          type: 'tool-call',
          toolCallId: part.callId,
          toolName: part.toolName,
          input: parsedInput(part.arguments),
        });
      }
    }
    return [{ role: 'assistant', content }];
  }
  const results: LanguageModelV3Message[] = [];
  const texts: string[] = [];
  for (const part of message.parts) {
    switch (part.type) {
      case 'tool_result':
        results.push({
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              toolCallId: part.callId,
              toolName: part.toolName,
              output: part.isError
                ? { type: 'error-text', value: part.content }
                : { type: 'text', value: part.content },
            },
          ],
        });
        break;
      case 'text':
        texts.push(part.text);
        break;
      case 'tool_call':
        throw new ModelCallError(
          'bad_request',
          `a tool_call part can only appear in an assistant message, not in a ${message.role} message`,
        );
      default:
        part satisfies never;
    }
  }
  if (texts.length > 0) {
    results.push({ role: 'user', content: [{ type: 'text', text: texts.join('\n\n') }] });
  }
  return results;
}

type AssistantContent = Extract<LanguageModelV3Message, { role: 'assistant' }>['content'];

/** The prompt takes tool input as a value; arguments the model sent malformed stay text. */
function parsedInput(rawArguments: string): unknown {
  try {
    return JSON.parse(rawArguments);
  } catch {
    return rawArguments;
  }
}

const FINISH_REASON_MAP: Readonly<Record<string, FinishReason>> = {
  stop: 'stop',
  length: 'length',
  'content-filter': 'content_filter',
  'tool-calls': 'tool_calls',
};

/** What Keel reads of a call's result, from `doGenerate` or folded from `doStream`. */
type GeneratedResult = Pick<
  LanguageModelV3GenerateResult,
  'content' | 'usage' | 'finishReason' | 'response'
>;

/**
 * Reads a `doStream` call to its end: text as it arrives goes to `onTextDelta`, tool calls and
 * the finish (usage, reason) are kept; an `error` part fails the call.
 */
async function collectStream(
  model: LanguageModelV3,
  options: LanguageModelV3CallOptions,
  onTextDelta: (text: string) => void,
  onPart: () => void,
): Promise<GeneratedResult> {
  const { stream } = await model.doStream(options);
  const content: LanguageModelV3GenerateResult['content'][number][] = [];
  const texts = new Map<string, { type: 'text'; text: string }>();
  let finish: Extract<LanguageModelV3StreamPart, { type: 'finish' }> | undefined;
  let response: { id?: string; modelId?: string } = {};
  const reader = stream.getReader();
  for (;;) {
    const { value: part, done } = await reader.read();
    if (done) break;
    onPart();
    // Reasoning, sources, files and raw chunks carry nothing Keel feeds back.
    if (part.type === 'text-start' || part.type === 'text-delta') {
      let text = texts.get(part.id);
      if (!text) {
        text = { type: 'text', text: '' };
        texts.set(part.id, text);
        content.push(text);
      }
      if (part.type === 'text-delta' && part.delta !== '') {
        text.text += part.delta;
        onTextDelta(part.delta);
      }
    } else if (part.type === 'tool-call') {
      content.push(part);
    } else if (part.type === 'response-metadata') {
      response = {
        ...(part.id === undefined ? {} : { id: part.id }),
        ...(part.modelId === undefined ? {} : { modelId: part.modelId }),
      };
    } else if (part.type === 'finish') {
      finish = part;
    } else if (part.type === 'error') {
      throw part.error;
    }
  }
  if (!finish) {
    throw new ModelCallError('malformed_response', 'the stream ended without a finish', {
      statusCode: 200,
    });
  }
  return { content, usage: finish.usage, finishReason: finish.finishReason, response };
}

function toModelResponse(result: GeneratedResult): ModelResponse {
  const content: ModelOutputPart[] = [];
  for (const part of result.content) {
    if (part.type === 'text' && part.text.length > 0) {
      content.push({ type: 'text', text: part.text });
    } else if (part.type === 'tool-call') {
      content.push({
        type: 'tool_call',
        callId: part.toolCallId,
        toolName: part.toolName,
        arguments: part.input,
      });
    }
  }
  const { inputTokens, outputTokens } = result.usage;
  const usage: { -readonly [Key in keyof ModelUsage]: ModelUsage[Key] } = {
    inputTokens: inputTokens.total ?? 0,
    outputTokens: outputTokens.total ?? 0,
  };
  if (inputTokens.cacheRead !== undefined) usage.cacheReadTokens = inputTokens.cacheRead;
  if (inputTokens.cacheWrite !== undefined) usage.cacheWriteTokens = inputTokens.cacheWrite;
  if (outputTokens.reasoning !== undefined) usage.reasoningTokens = outputTokens.reasoning;
  return {
    content,
    usage,
    finishReason: FINISH_REASON_MAP[result.finishReason.unified] ?? 'other',
    responseId: result.response?.id,
    responseModel: result.response?.modelId,
  };
}

/** The fields of the AI SDK's `APICallError` Keel reads (checked by shape, not by class). */
interface ApiCallErrorShape {
  readonly statusCode?: number;
  readonly responseHeaders?: Record<string, string>;
  readonly responseBody?: string;
  readonly message: string;
}

function toModelCallError(error: unknown, signal: AbortSignal | undefined): ModelCallError {
  if (ModelCallError.isInstance(error)) return error;
  if (signal?.aborted) {
    return new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'AI_APICallError') {
    const apiError = error as ApiCallErrorShape;
    const statusCode = apiError.statusCode;
    const headers = apiError.responseHeaders;
    const options = {
      statusCode,
      retryAfterMs: parseRetryAfter(
        headers ? { get: (header: string) => headers[header] ?? null } : undefined,
      ),
      cause: error,
    };
    const body = `${apiError.responseBody ?? ''} ${message}`;
    if (statusCode === undefined) return new ModelCallError('network', message, options);
    // A 2xx whose body the provider package could not parse.
    if (statusCode < 300) return new ModelCallError('malformed_response', message, options);
    if (statusCode === 529 || /overloaded/i.test(body)) {
      return new ModelCallError('overloaded', message, options);
    }
    if (statusCode === 429) return new ModelCallError('rate_limited', message, options);
    if (statusCode === 408) return new ModelCallError('timeout', message, options);
    if (statusCode >= 500) return new ModelCallError('server_error', message, options);
    if (statusCode === 401 || statusCode === 403) {
      return new ModelCallError('authentication', message, options);
    }
    if (/context_length_exceeded|prompt is too long/i.test(body)) {
      return new ModelCallError('context_too_long', message, options);
    }
    return new ModelCallError('bad_request', message, options);
  }
  if (name === 'AI_JSONParseError' || name === 'AI_TypeValidationError') {
    return new ModelCallError('malformed_response', message, { statusCode: 200, cause: error });
  }
  return new ModelCallError('network', message, { cause: error });
}
