import { conversationFold } from './conversation-fold.js';
import type { Message, ToolSpec } from './messages.js';
import type { ModelRequest } from './model-adapter.js';

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD = 4;

/**
 * What character-based estimates count in a request: the characters of the system prompt,
 * every message part and every tool spec, and how many messages and tools carry them.
 */
export function requestCharacters(request: ModelRequest): {
  readonly chars: number;
  readonly entries: number;
  /** Message parts: text, tool calls and tool results. */
  readonly parts: number;
} {
  const messages = messageCharacters(request.messages);
  let chars = request.system.length + messages.chars;
  for (const tool of request.tools) chars += toolCharacters(tool);
  return {
    chars,
    entries: request.messages.length + request.tools.length,
    parts: messages.parts,
  };
}

// Carried forward over a run's conversation: a step counts only the messages it added.
const messageCharacters = conversationFold({ chars: 0, parts: 0 }, (total, message: Message) => {
  let chars = total.chars;
  for (const part of message.parts) {
    switch (part.type) {
      case 'text':
        chars += part.text.length;
        break;
      case 'tool_call':
        chars += part.toolName.length + part.arguments.length;
        break;
      case 'tool_result':
        chars += part.content.length;
        break;
      default:
        part satisfies never;
    }
  }
  return { chars, parts: total.parts + message.parts.length };
});

// Tool specs are the agent's own objects, offered again every step.
const toolSizes = new WeakMap<ToolSpec, number>();
function toolCharacters(tool: ToolSpec): number {
  let size = toolSizes.get(tool);
  if (size === undefined) {
    size = tool.name.length + tool.description.length + JSON.stringify(tool.inputSchema).length;
    toolSizes.set(tool, size);
  }
  return size;
}

/**
 * A provider-neutral estimate of a request's input tokens: characters / 4 plus a small
 * overhead per message and tool. Adapters with a real tokenizer override it.
 */
export function estimateInputTokens(request: ModelRequest): number {
  const { chars, entries } = requestCharacters(request);
  return Math.ceil(chars / CHARS_PER_TOKEN) + PER_MESSAGE_OVERHEAD * (entries + 1);
}

/** Estimate for a single string. */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}
