import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { once } from '../core/index.js';
import {
  ModelCallError,
  ReplySize,
  type FinishReason,
  type ModelOutputPart,
  type ModelResponse,
  type ModelUsage,
} from './model-adapter.js';
import { replyChecks, type ReplyChecks } from './reply-checks.js';

const STOP_REASON_MAP: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
};

/** Anthropic's token counts for one message. */
interface AnthropicUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens?: number | null | undefined;
  readonly cache_read_input_tokens?: number | null | undefined;
}

const check: ReplyChecks = replyChecks('a message');

/**
 * `value` as usage, or `malformed_response` naming the wrong field (checked by hand: a streamed
 * reply reads nothing else with a schema).
 */
function readUsage(value: unknown): AnthropicUsage {
  const fields = check.record(value, 'usage');
  check.count(fields.input_tokens, 'usage.input_tokens');
  check.count(fields.output_tokens, 'usage.output_tokens');
  check.optionalCount(fields.cache_creation_input_tokens, 'usage.cache_creation_input_tokens');
  check.optionalCount(fields.cache_read_input_tokens, 'usage.cache_read_input_tokens');
  return fields as unknown as AnthropicUsage;
}

// Made at the first non-streamed Anthropic response, not when Keel is imported.
const messageSchema = once(() =>
  z.object({
    id: z.string().nullish(),
    model: z.string().nullish(),
    content: z.array(
      z.union([
        z.object({ type: z.literal('text'), text: z.string() }),
        z.object({
          type: z.literal('tool_use'),
          id: z.string(),
          name: z.string(),
          input: z.unknown(),
        }),
        // Thinking and server-tool blocks carry nothing Keel feeds back.
        z.object({ type: z.string() }),
      ]),
    ),
    stop_reason: z.string().nullish(),
    usage: z.unknown(),
  }),
);

/** Anthropic's `input_tokens` excludes cached tokens; Keel's `inputTokens` includes them. */
export function toModelUsage(usage: AnthropicUsage): ModelUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: usage.input_tokens + cacheRead + cacheWrite,
    outputTokens: usage.output_tokens,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
  };
}

export function toModelResponse(message: unknown): ModelResponse {
  const parsed = messageSchema().safeParse(message);
  if (!parsed.success) {
    throw new ModelCallError(
      'malformed_response',
      `the response is not a message: ${z.prettifyError(parsed.error)}`,
      { statusCode: 200, cause: parsed.error },
    );
  }
  const { id, model, content: blocks, stop_reason: stopReason, usage } = parsed.data;
  const content: ModelOutputPart[] = [];
  for (const block of blocks) {
    if ('text' in block && block.type === 'text') content.push({ type: 'text', text: block.text });
    if ('name' in block && block.type === 'tool_use') {
      content.push({
        type: 'tool_call',
        callId: block.id,
        toolName: block.name,
        arguments: JSON.stringify(block.input ?? {}),
      });
    }
  }
  return {
    content,
    usage: toModelUsage(readUsage(usage)),
    finishReason: STOP_REASON_MAP[stopReason ?? ''] ?? 'other',
    responseId: id ?? undefined,
    responseModel: model ?? undefined,
  };
}

/**
 * Folds a raw event stream into one response. Tool input is kept as the streamed JSON text,
 * so input the model sent malformed reaches the engine's validation as it was sent.
 */
export async function accumulateStream(
  events: AsyncIterable<RawMessageStreamEvent>,
  onEvent: () => void = () => undefined,
  onTextDelta?: (text: string) => void,
): Promise<ModelResponse> {
  const blocks = new Map<
    number,
    { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; json: string }
  >();
  let id: string | undefined;
  let model: string | undefined;
  let usage: AnthropicUsage | undefined;
  let stopReason: string | null | undefined;
  let stopped = false;
  const size = new ReplySize();
  for await (const event of events) {
    onEvent();
    switch (event.type) {
      case 'message_start':
        id = event.message.id;
        model = event.message.model;
        usage = readUsage(event.message.usage);
        break;
      case 'content_block_start':
        if (event.content_block.type === 'text') {
          size.add(event.content_block.text.length, true);
          blocks.set(event.index, { type: 'text', text: event.content_block.text });
          if (event.content_block.text !== '') onTextDelta?.(event.content_block.text);
        } else if (event.content_block.type === 'tool_use') {
          const { id: callId, name } = event.content_block;
          size.add(callId.length + name.length, true);
          blocks.set(event.index, { type: 'tool_use', id: callId, name, json: '' });
        } else size.add(0, true);
        break;
      case 'content_block_delta': {
        const block = blocks.get(event.index);
        if (block?.type === 'text' && event.delta.type === 'text_delta') {
          size.add(event.delta.text.length);
          block.text += event.delta.text;
          onTextDelta?.(event.delta.text);
        } else if (block?.type === 'tool_use' && event.delta.type === 'input_json_delta') {
          size.add(event.delta.partial_json.length);
          block.json += event.delta.partial_json;
        }
        break;
      }
      case 'message_delta': {
        stopReason = event.delta.stop_reason;
        // Its count of output tokens replaces the start's; a server may leave it out.
        const outputTokens = (event.usage as { output_tokens?: unknown } | undefined)
          ?.output_tokens;
        check.optionalCount(outputTokens, 'usage.output_tokens');
        if (usage && typeof outputTokens === 'number')
          usage = { ...usage, output_tokens: outputTokens };
        break;
      }
      case 'message_stop':
        stopped = true;
        break;
      case 'content_block_stop':
        break;
      default:
        event satisfies never;
    }
  }
  if (!usage || !stopped) {
    throw new ModelCallError('malformed_response', 'the event stream ended before message_stop', {
      statusCode: 200,
    });
  }
  const content: ModelOutputPart[] = [];
  for (const index of [...blocks.keys()].sort((left, right) => left - right)) {
    const block = blocks.get(index);
    if (block?.type === 'text' && block.text.length > 0) {
      content.push({ type: 'text', text: block.text });
    }
    if (block?.type === 'tool_use') {
      content.push({
        type: 'tool_call',
        callId: block.id,
        toolName: block.name,
        arguments: block.json === '' ? '{}' : block.json,
      });
    }
  }
  return {
    content,
    usage: toModelUsage(usage),
    finishReason: STOP_REASON_MAP[stopReason ?? ''] ?? 'other',
    responseId: id,
    responseModel: model,
  };
}
