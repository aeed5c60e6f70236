import { describe, expect, it } from 'vitest';
import { TRUSTED_AGENT } from '../core/index.js';
import type { Message } from './conversation.js';
import {
  conversationCopy,
  conversationEdited,
  conversationLog,
  conversationMark,
  sharedPrefix,
} from './conversation-log.js';
import { applyEvent, emptyRunState } from './run-state.js';

const message = (text: string): Message => ({
  role: 'user',
  parts: [{ type: 'text', text, provenance: TRUSTED_AGENT }],
});

describe('conversation logs', () => {
  it('a later copy of a log with no edit between shares all of the earlier one', () => {
    const log = conversationLog([message('a'), message('b')]);
    const first = conversationCopy(log);
    log.push(message('c'));
    const second = conversationCopy(log);
    expect(sharedPrefix(first, conversationMark(first), second, conversationMark(second))).toBe(2);
    // The log itself, read live, is marked too.
    expect(sharedPrefix(first, conversationMark(first), log, conversationMark(log))).toBe(2);
  });

  it('an edit in place makes the next copy compared message by message', () => {
    const log = conversationLog([message('a'), message('b'), message('c')]);
    const first = conversationCopy(log);
    conversationEdited(log);
    log[1] = message('b, edited');
    const second = conversationCopy(log);
    expect(conversationMark(second)?.edits).toBe(1);
    expect(sharedPrefix(first, conversationMark(first), second, conversationMark(second))).toBe(1);
  });

  it('an edit not reported is still found in arrays that are not logs', () => {
    const plain = [message('a'), message('b'), message('c')];
    const seen = [...plain];
    plain[1] = message('b, edited');
    expect(conversationMark(plain)).toBeUndefined();
    expect(sharedPrefix(seen, conversationMark(seen), plain, conversationMark(plain))).toBe(1);
  });

  it('copies of two different logs are compared, not trusted', () => {
    const shared = message('a');
    const one = conversationCopy(conversationLog([shared, message('b')]));
    const other = conversationCopy(conversationLog([shared, message('c'), message('d')]));
    expect(sharedPrefix(one, conversationMark(one), other, conversationMark(other))).toBe(1);
  });

  it('a shorter copy than what was seen is compared', () => {
    const log = conversationLog([message('a'), message('b'), message('c')]);
    const long = conversationCopy(log);
    const short = long.slice(0, 2);
    expect(sharedPrefix(long, conversationMark(long), short, conversationMark(short))).toBe(2);
  });
});

describe('a run state conversation', () => {
  it('is a log whose quarantined result view, replaced in place, counts as an edit', () => {
    const state = emptyRunState();
    state.messages.push(message('task'), {
      role: 'tool',
      parts: [
        {
          type: 'tool_result',
          callId: 'c1',
          toolName: 'fetch_page',
          content: 'raw page',
          isError: false,
          provenance: { trust: 'untrusted', source: 'tool:fetch_page' },
        },
      ],
    });
    const before = conversationCopy(state.messages);
    expect(conversationMark(before)).toEqual({ log: state.messages, edits: 0 });
    applyEvent(state, {
      type: 'tool_quarantined',
      step: 0,
      callId: 'c1',
      toolName: 'fetch_page',
      view: 'a page about cats',
      outputs: [],
    });
    const after = conversationCopy(state.messages);
    expect(conversationMark(after)?.edits).toBe(1);
    expect(sharedPrefix(before, conversationMark(before), after, conversationMark(after))).toBe(1);
  });
});
