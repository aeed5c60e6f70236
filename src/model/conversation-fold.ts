import { conversationMark, sharedPrefix, type ConversationMark } from '../journal/index.js';
import type { Message } from './messages.js';

// A single message counted alone is folded again; any conversation longer is carried, short
// runs included: remembering costs a lookup and a comparison per message, folding again a
// canonical JSON and a hash per message (the chained digest), at every step of the run.
const CARRIED_FROM = 2;

/**
 * A value computed over a conversation message by message (a running count, a chained
 * digest), carried forward between calls: a run's next request repeats the messages of the
 * last one and adds a few, so only the added messages are folded. Where a request departs
 * from the last one seen (a compressed or assembled context), folding restarts from there.
 * A run's conversation and the copies its requests take are marked (`conversationCopy`): for
 * them, finding what was folded before costs the same at step 1,000 as at step 10; any other
 * array is compared message by message.
 * The result is a function of the messages alone, never of what was seen before.
 *
 * ```ts
 * const characters = conversationFold(0, (total, message) => total + charactersOf(message));
 * characters(request.messages); // costs the new messages only, after the first call
 * ```
 */
export function conversationFold<T>(
  initial: T,
  step: (previous: T, message: Message) => T,
): (messages: readonly Message[]) => T {
  // Keyed by a conversation's first message, which is one object for the whole run.
  const carried = new WeakMap<
    Message,
    { readonly seen: Message[]; readonly values: T[]; mark: ConversationMark | undefined }
  >();
  return function fold(messages) {
    const [first] = messages;
    if (first === undefined) return initial;
    if (messages.length < CARRIED_FROM) return messages.reduce(step, initial);
    let entry = carried.get(first);
    if (!entry) {
      entry = { seen: [], values: [], mark: undefined };
      carried.set(first, entry);
    }
    const { seen, values } = entry;
    const mark = conversationMark(messages);
    const same = sharedPrefix(seen, entry.mark, messages, mark);
    entry.mark = mark;
    seen.length = same;
    values.length = same;
    let value = same === 0 ? initial : (values[same - 1] as T);
    for (let index = same; index < messages.length; index++) {
      const message = messages[index] as Message;
      value = step(value, message);
      seen.push(message);
      values.push(value);
    }
    return value;
  };
}
