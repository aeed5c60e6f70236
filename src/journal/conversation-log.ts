import type { Message } from './conversation.js';

/**
 * Where a conversation array stands in a run's log: the log it is (or was copied from) and how
 * many in-place edits the log had by then. Two marks of one log with equal edits mean the
 * later array only adds messages after the earlier one's.
 */
export interface ConversationMark {
  readonly log: readonly Message[];
  readonly edits: number;
}

// A run's conversation grows by appending; the rare edit in place (a quarantined result's
// view) is counted here. Only arrays registered as logs are trusted to keep to that.
const logEdits = new WeakMap<readonly Message[], number>();
// Copies taken of a log (a step's request): a copy is never changed after it is taken.
const copies = new WeakMap<readonly Message[], ConversationMark>();

/**
 * Registers `messages` as a log: changed only by `push`, and in place only with the edit
 * reported by {@link conversationEdited}.
 */
export function conversationLog(messages: Message[]): Message[] {
  logEdits.set(messages, 0);
  return messages;
}

/** Reports a change in place to a log's messages (anything but an append). */
export function conversationEdited(log: readonly Message[]): void {
  const edits = logEdits.get(log);
  if (edits !== undefined) logEdits.set(log, edits + 1);
}

/** A copy of a log as it is now, marked so carried folds over it need not compare messages. */
export function conversationCopy(log: readonly Message[]): Message[] {
  const copy = log.slice();
  const mark = conversationMark(log);
  if (mark) copies.set(copy, mark);
  return copy;
}

/** The mark of a log or of a copy of one; `undefined` for any other array. */
export function conversationMark(messages: readonly Message[]): ConversationMark | undefined {
  const copied = copies.get(messages);
  if (copied) return copied;
  const edits = logEdits.get(messages);
  return edits === undefined ? undefined : { log: messages, edits };
}

/**
 * How many leading messages `messages` shares with `seen` (what was folded or taken before).
 * When both are marked as the same log with no edit between, that is all of `seen` at once;
 * otherwise the messages are compared one by one.
 */
export function sharedPrefix(
  seen: readonly Message[],
  seenMark: ConversationMark | undefined,
  messages: readonly Message[],
  mark: ConversationMark | undefined,
): number {
  if (
    seenMark !== undefined &&
    mark !== undefined &&
    seenMark.log === mark.log &&
    seenMark.edits === mark.edits &&
    seen.length <= messages.length
  )
    return seen.length;
  let same = 0;
  const common = Math.min(seen.length, messages.length);
  while (same < common && seen[same] === messages[same]) same += 1;
  return same;
}
