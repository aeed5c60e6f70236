import { describe, expect, it } from 'vitest';
import { TRUSTED_AGENT } from '../core/index.js';
import { conversationCopy, conversationEdited, conversationLog } from '../journal/index.js';
import type { Message } from './messages.js';
import { requestCharacters } from './token-estimate.js';

const message = (text: string): Message => ({
  role: 'user',
  parts: [{ type: 'text', text, provenance: TRUSTED_AGENT }],
});
const request = (messages: readonly Message[]) => ({ system: 'sys', messages, tools: [] });

describe('requestCharacters carried over a run log', () => {
  it('equals the count taken afresh at every step, an edit in place included', () => {
    const log = conversationLog([]);
    for (let index = 0; index < 30; index++) {
      log.push(message(`message ${index} ${'x'.repeat(index)}`));
      if (index === 20) {
        conversationEdited(log);
        log[3] = message('a much longer message three than the first one was');
      }
      const copy = conversationCopy(log);
      expect(requestCharacters(request(copy))).toEqual(
        requestCharacters(request(copy.map((each) => structuredClone(each)))),
      );
    }
  });
});
