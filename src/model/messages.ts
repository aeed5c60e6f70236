export {
  MESSAGE_ROLES,
  type Message,
  type MessagePart,
  type MessageRole,
  type TextPart,
  type ToolCallPart,
  type ToolResultPart,
} from '../journal/index.js';

/** A tool as the model is told about it. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the tool's input. */
  readonly inputSchema: Record<string, unknown>;
}
