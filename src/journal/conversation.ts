import type { Provenance } from '../core/index.js';

/** Text with its provenance label. */
export interface TextPart {
  readonly type: 'text';
  readonly text: string;
  readonly provenance: Provenance;
}

/**
 * A tool call as the model emitted it. `arguments` is the raw text the model produced, which
 * may be malformed; the engine parses and validates it.
 */
export interface ToolCallPart {
  readonly type: 'tool_call';
  readonly callId: string;
  readonly toolName: string;
  readonly arguments: string;
  readonly provenance: Provenance;
}

/** The result of a tool call, or the typed error fed back to the model instead of one. */
export interface ToolResultPart {
  readonly type: 'tool_result';
  readonly callId: string;
  readonly toolName: string;
  readonly content: string;
  readonly isError: boolean;
  readonly provenance: Provenance;
}

/** Text, a tool call or a tool result, each labelled with where it came from. */
export type MessagePart = TextPart | ToolCallPart | ToolResultPart;

export const MESSAGE_ROLES = ['user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

/** One message of a conversation: a role and its parts, each with its provenance. */
export interface Message {
  readonly role: MessageRole;
  readonly parts: readonly MessagePart[];
}

/**
 * Token usage as the provider reported it, normalised to one meaning across providers:
 * `inputTokens` is every input token of the call, cached ones included (OpenAI's
 * `prompt_tokens`; Anthropic's `input_tokens + cache_read_input_tokens +
 * cache_creation_input_tokens`). `cacheReadTokens` and `cacheWriteTokens` are the parts of
 * `inputTokens` read from or written to the provider's prompt cache. `reasoningTokens` is the
 * part of `outputTokens` spent on reasoning. This is the OpenTelemetry GenAI meaning of
 * `gen_ai.usage.input_tokens`.
 */
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

/** Every reason a model reply can end with. */
export const FINISH_REASONS = ['stop', 'tool_calls', 'length', 'content_filter', 'other'] as const;
/** Why a model reply ended: it stopped, called tools, hit the output cap, was filtered, or other. */
export type FinishReason = (typeof FINISH_REASONS)[number];

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
  /** The request does not fit the model's context window: compress and retry, never as is. */
  'context_too_long',
  /** The provider's content policy blocked the request or the output. */
  'content_filtered',
  /** The model is not served (unknown, retired, or the endpoint is down for it). */
  'unavailable',
] as const;
/** How a model call failed; the type decides whether the engine retries or falls back. */
export type ModelErrorType = (typeof MODEL_ERROR_TYPES)[number];
