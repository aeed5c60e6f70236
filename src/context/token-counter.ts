import {
  conservativeTokenCount,
  type Message,
  type MessagePart,
  type ModelAdapterV1,
  type ModelRequest,
} from '../model/index.js';

/** Counts tokens the way one model does, caching per message and per part. */
export interface TokenCounter {
  request(request: ModelRequest): number;
  /** One message with its framing. Messages never change, so counts are cached. */
  message(message: Message): number;
  /** One part as if it were a message of its own: an upper bound of its share of a message. */
  part(part: MessagePart): number;
}

const counters = new WeakMap<ModelAdapterV1, TokenCounter>();
const EMPTY: ModelRequest = { system: '', messages: [], tools: [] };

/**
 * The token counter of a model: its own pre-flight count (exact where it has a tokenizer),
 * else the model layer's flagged conservative estimate. Counts add up to at least the count of
 * the whole request, so a sum of sections is a safe budget figure.
 *
 * ```ts
 * tokenCounter(agent.model).message(state.messages[0]);
 * ```
 */
export function tokenCounter(model: ModelAdapterV1): TokenCounter {
  const known = counters.get(model);
  if (known) return known;
  const count = (request: ModelRequest): number =>
    model.estimateInputTokens?.(request) ?? conservativeTokenCount(request).tokens;
  const empty = count(EMPTY);
  const messages = new WeakMap<Message, number>();
  const parts = new WeakMap<MessagePart, number>();
  const counter: TokenCounter = {
    request: count,
    message(message) {
      let tokens = messages.get(message);
      if (tokens === undefined) {
        tokens = Math.max(0, count({ ...EMPTY, messages: [message] }) - empty);
        messages.set(message, tokens);
      }
      return tokens;
    },
    part(part) {
      let tokens = parts.get(part);
      if (tokens === undefined) {
        tokens = Math.max(
          0,
          count({ ...EMPTY, messages: [{ role: 'user', parts: [part] }] }) - empty,
        );
        parts.set(part, tokens);
      }
      return tokens;
    },
  };
  counters.set(model, counter);
  return counter;
}
