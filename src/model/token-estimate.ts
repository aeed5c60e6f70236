import { conversationFold } from './conversation-fold.js';
import type { Message, ToolSpec } from './messages.js';
import type { ModelRequest } from './model-adapter.js';

const CHARS_PER_TOKEN = 4;
const PER_MESSAGE_OVERHEAD = 4;

/**
 * What character-based estimates count in a request: the characters of the system prompt,
 * every message part and every tool spec, how many of them are not ASCII, and how many
 * messages and tools carry them.
 */
export function requestCharacters(request: ModelRequest): {
  readonly chars: number;
  /** Of `chars`, the UTF-16 units outside ASCII (CJK, accents, emoji): denser in tokens. */
  readonly wide: number;
  readonly entries: number;
  /** Message parts: text, tool calls and tool results. */
  readonly parts: number;
} {
  const messages = messageCharacters(request.messages);
  let chars = request.system.length + messages.chars;
  let wide = wideCharacters(request.system) + messages.wide;
  for (const tool of request.tools) {
    const size = toolCharacters(tool);
    chars += size.chars;
    wide += size.wide;
  }
  return {
    chars,
    wide,
    entries: request.messages.length + request.tools.length,
    parts: messages.parts,
  };
}

const BEYOND_ASCII = /[\u0080-\uffff]/;

/** How many UTF-16 units of `text` are outside ASCII. */
export function wideCharacters(text: string): number {
  if (!BEYOND_ASCII.test(text)) return 0;
  let wide = 0;
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) wide += 1;
  return wide;
}

// Carried forward over a run's conversation: a step counts only the messages it added.
const messageCharacters = conversationFold(
  { chars: 0, wide: 0, parts: 0 },
  (total, message: Message) => {
    let { chars, wide } = total;
    const add = (text: string): void => {
      chars += text.length;
      wide += wideCharacters(text);
    };
    for (const part of message.parts) {
      switch (part.type) {
        case 'text':
          add(part.text);
          break;
        case 'tool_call':
          add(part.toolName);
          add(part.arguments);
          break;
        case 'tool_result':
          add(part.content);
          break;
        default:
          part satisfies never;
      }
    }
    return { chars, wide, parts: total.parts + message.parts.length };
  },
);

// Tool specs are the agent's own objects, offered again every step.
const toolSizes = new WeakMap<ToolSpec, { readonly chars: number; readonly wide: number }>();
function toolCharacters(tool: ToolSpec): { readonly chars: number; readonly wide: number } {
  let size = toolSizes.get(tool);
  if (size === undefined) {
    const text = tool.name + tool.description + JSON.stringify(tool.inputSchema);
    size = { chars: text.length, wide: wideCharacters(text) };
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
