import type { ModelRequest } from './model-adapter.js';

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD = 4;

/**
 * A provider-neutral estimate of a request's input tokens: characters / 4 plus a small
 * overhead per message and tool. Adapters with a real tokenizer override it.
 */
export function estimateInputTokens(request: ModelRequest): number {
  let chars = request.system.length;
  let overhead = PER_MESSAGE_OVERHEAD;
  for (const message of request.messages) {
    overhead += PER_MESSAGE_OVERHEAD;
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
  }
  for (const tool of request.tools) {
    overhead += PER_MESSAGE_OVERHEAD;
    chars += tool.name.length + tool.description.length + JSON.stringify(tool.inputSchema).length;
  }
  return Math.ceil(chars / CHARS_PER_TOKEN) + overhead;
}

/** Estimate for a single string. */
export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}
