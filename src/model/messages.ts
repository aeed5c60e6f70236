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

export type MessagePart = TextPart | ToolCallPart | ToolResultPart;

export const MESSAGE_ROLES = ['user', 'assistant', 'tool'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export interface Message {
  readonly role: MessageRole;
  readonly parts: readonly MessagePart[];
}

/** A tool as the model is told about it. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the tool's input. */
  readonly inputSchema: Record<string, unknown>;
}
