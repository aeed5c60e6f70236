import { describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { TRUSTED_AGENT } from '../core/index.js';
import { conversationEdited, emptyRunState, type Message } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { runContext } from './guard-review.js';

const message = (text: string): Message => ({
  role: 'user',
  parts: [{ type: 'text', text, provenance: TRUSTED_AGENT }],
});

describe('runContext carried over a run', () => {
  it('equals the context of the same conversation taken afresh, an edit in place included', () => {
    const agent = defineAgent({
      name: 'reader',
      model: simulator({ script: [] }),
      instructions: 'Read.',
    });
    const state = emptyRunState();
    for (let index = 0; index < 12; index++) {
      state.messages.push(message(`message ${index}`));
      if (index === 8) {
        conversationEdited(state.messages);
        state.messages[2] = message('message 2, replaced');
      }
      // A new state each time: nothing carried for it.
      const fresh = emptyRunState();
      fresh.messages.push(...state.messages.map((each) => structuredClone(each)));
      const texts = runContext(agent, state).map((piece) => piece.text);
      expect(texts).toEqual(runContext(agent, fresh).map((piece) => piece.text));
    }
    expect(runContext(agent, state).map((piece) => piece.text)).toContain('message 2, replaced');
  });
});
