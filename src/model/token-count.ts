import { createRequire } from 'node:module';
import type { AbortableOptions } from '../core/index.js';
import type { Message } from './messages.js';
import type { ModelAdapterV1, ModelRequest } from './model-adapter.js';
import { estimateInputTokens, requestCharacters } from './token-estimate.js';

/** How a token count was obtained. Only `tokenizer` and `provider` counts are exact. */
export const TOKEN_COUNT_METHODS = ['tokenizer', 'provider', 'estimate'] as const;
export type TokenCountMethod = (typeof TOKEN_COUNT_METHODS)[number];

/** A token count and whether it can be trusted as exact. */
export interface TokenCount {
  readonly tokens: number;
  readonly method: TokenCountMethod;
  /** `false` marks a conservative estimate (an upper bound, not a count). */
  readonly exact: boolean;
}

/** The OpenAI-family encodings Keel counts with. */
export const OPENAI_ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type OpenAIEncoding = (typeof OPENAI_ENCODINGS)[number];

interface Encoder {
  countTokens(text: string, options?: { disallowedSpecial?: ReadonlySet<string> }): number;
}

// Loaded synchronously on first use: the pre-flight check is synchronous, and loading an
// encoding's ranks costs ~140 ms that runs without an OpenAI-family model should not pay.
const require = createRequire(import.meta.url);
const encoders = new Map<OpenAIEncoding, Encoder>();
const NO_SPECIAL_TOKENS = { disallowedSpecial: new Set<string>() } as const;

function encoder(encoding: OpenAIEncoding): Encoder {
  let loaded = encoders.get(encoding);
  if (!loaded) {
    loaded = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as Encoder;
    encoders.set(encoding, loaded);
  }
  return loaded;
}

/**
 * The encoding an OpenAI model uses: `cl100k_base` for the GPT-4 and GPT-3.5 generation,
 * `o200k_base` for everything newer (GPT-4o, GPT-4.1, o-series, GPT-5) and unknown names.
 *
 * ```ts
 * encodingForModel('gpt-4.1-mini'); // 'o200k_base'
 * encodingForModel('gpt-4-turbo'); // 'cl100k_base'
 * ```
 */
export function encodingForModel(modelId: string): OpenAIEncoding {
  const name = modelId.toLowerCase().replace(/^openai\//, '');
  if (/^(gpt-4(?!o|\.)|gpt-3\.5|text-embedding-(ada|3))/.test(name)) return 'cl100k_base';
  return 'o200k_base';
}

/**
 * Exact token count of a text in an OpenAI encoding (gpt-tokenizer).
 *
 * ```ts
 * countTextTokens('hello world', 'o200k_base'); // 2
 * ```
 */
export function countTextTokens(text: string, encoding: OpenAIEncoding): number {
  // Text that spells a special token (`<|endoftext|>` in a fetched page) is counted as text, as
  // the provider reads it, instead of throwing.
  return encoder(encoding).countTokens(text, NO_SPECIAL_TOKENS);
}

// OpenAI's documented chat framing: about 3 tokens per message plus 3 to prime the reply.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/**
 * Input tokens of a request in an OpenAI encoding: every text the model reads (system prompt,
 * messages, tool calls and results, tool definitions as JSON) counted with the tokenizer, plus
 * the chat framing per message. Exact for the text; the framing of tool definitions is the
 * provider's own and may differ by a few tokens.
 */
export function countRequestTokens(request: ModelRequest, encoding: OpenAIEncoding): TokenCount {
  let tokens = TOKENS_PER_REPLY;
  const count = (text: string): number => (text.length === 0 ? 0 : countTextTokens(text, encoding));
  if (request.system.length > 0) tokens += TOKENS_PER_MESSAGE + count(request.system);
  for (const message of request.messages) tokens += messageTokens(message, encoding);
  for (const tool of request.tools) {
    tokens += count(`${tool.name}\n${tool.description}\n${JSON.stringify(tool.inputSchema)}`);
  }
  return { tokens, method: 'tokenizer', exact: true };
}

/**
 * A request's input tokens in an OpenAI encoding without the tokenizer: a character-based
 * `estimate`, and `atMost`, a bound the exact {@link countRequestTokens} never passes (a token
 * is at least one UTF-8 byte, a UTF-16 code unit at most three, plus the same framing).
 *
 * ```ts
 * roughRequestTokens(request); // { estimate: 1_204, atMost: 14_530 }
 * ```
 */
export function roughRequestTokens(request: ModelRequest): {
  readonly estimate: number;
  readonly atMost: number;
} {
  const { chars, parts } = requestCharacters(request);
  // Tool definitions are counted with a newline after the name and after the description.
  const text = chars + 2 * request.tools.length;
  const framing =
    TOKENS_PER_REPLY +
    TOKENS_PER_MESSAGE * (request.messages.length + 1) +
    TOKENS_PER_MESSAGE * parts;
  return { estimate: estimateInputTokens(request), atMost: MAX_BYTES_PER_CHAR * text + framing };
}

const MAX_BYTES_PER_CHAR = 3;

// Messages never change once in a run, and each step re-sends all of them: counting each once
// keeps a long run's pre-flight checks linear instead of quadratic.
const messageCounts = new WeakMap<Message, Partial<Record<OpenAIEncoding, number>>>();

function messageTokens(message: Message, encoding: OpenAIEncoding): number {
  const cached = messageCounts.get(message);
  const known = cached?.[encoding];
  if (known !== undefined) return known;
  const count = (text: string): number => (text.length === 0 ? 0 : countTextTokens(text, encoding));
  let tokens = TOKENS_PER_MESSAGE;
  for (const part of message.parts) {
    switch (part.type) {
      case 'text':
        tokens += count(part.text);
        break;
      case 'tool_call':
        tokens += count(part.toolName) + count(part.arguments);
        break;
      case 'tool_result':
        tokens += TOKENS_PER_MESSAGE + count(part.content);
        break;
      default:
        part satisfies never;
    }
  }
  messageCounts.set(message, { ...cached, [encoding]: tokens });
  return tokens;
}

const CONSERVATIVE_CHARS_PER_TOKEN = 3;
const CONSERVATIVE_OVERHEAD = 8;

/**
 * A flagged estimate that errs high, for models without a local tokenizer: ASCII characters /
 * 3, every other UTF-16 unit (CJK, accents, emoji) a token, plus a per-message overhead. Real
 * tokenizers average ~4 ASCII characters per token on English text and about a token per
 * CJK character, so this over-counts both, the safe side for a budget check. It is no bound:
 * text a tokenizer splits finer (long runs of rare symbols) can count more.
 */
export function conservativeTokenCount(request: ModelRequest): TokenCount {
  const { chars, wide, entries } = requestCharacters(request);
  const overhead = CONSERVATIVE_OVERHEAD * (entries + 1);
  return {
    tokens: Math.ceil((chars - wide) / CONSERVATIVE_CHARS_PER_TOKEN) + wide + overhead,
    method: 'estimate',
    exact: false,
  };
}

/**
 * The best input token count a model offers for a request: the provider's counting endpoint
 * or a local tokenizer when the adapter has one, else its synchronous estimate, else a
 * conservative estimate; estimates are flagged `exact: false`. For budget checks and context
 * assembly.
 *
 * ```ts
 * const { tokens, exact } = await countInputTokens(model, request, { signal });
 * ```
 */
export async function countInputTokens(
  model: ModelAdapterV1,
  request: ModelRequest,
  options: AbortableOptions = {},
): Promise<TokenCount> {
  if (model.countInputTokens) return model.countInputTokens(request, options);
  if (model.estimateInputTokens) {
    return { tokens: model.estimateInputTokens(request), method: 'estimate', exact: false };
  }
  return conservativeTokenCount(request);
}

/**
 * How far a pre-flight estimate was from the input the provider reported: positive when the
 * estimate was high. Recorded per call so estimates can be judged.
 */
export function estimateError(
  estimatedInputTokens: number,
  reportedInputTokens: number,
): { readonly tokens: number; readonly ratio: number | null } {
  const tokens = estimatedInputTokens - reportedInputTokens;
  return { tokens, ratio: reportedInputTokens === 0 ? null : tokens / reportedInputTokens };
}
