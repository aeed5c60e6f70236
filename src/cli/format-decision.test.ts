import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../journal/index.js';
import { summarizeEvent } from './format.js';

const base = { step: 1, callId: 'c1', toolName: 'classify', decisionId: 'dec_1' } as const;

function line(entry: Extract<RunEvent, { type: 'decision_recorded' }>['entry']): string {
  // Colours are codes around words; the words are what people read.
  return stripVTControlCharacters(summarizeEvent({ type: 'decision_recorded', ...base, entry }));
}

describe('summarizeEvent for decisions made inside a call', () => {
  it('names the tool, the decision and what the entry says', () => {
    expect(
      line({
        type: 'decision_attempt',
        vote: 1,
        attempt: 2,
        output: '{',
        usage: null,
        costUsd: null,
        latencyMs: 1,
        error: 'not valid JSON',
      }),
    ).toBe('decision_recorded classify dec_1: attempt 2 of vote 1 rejected: not valid JSON');
    expect(
      line({ type: 'decision_made', value: 'billing', confidence: 0.9, agreement: [3, 5] }),
    ).toBe('decision_recorded classify dec_1: "billing" confidence 0.9 (3/5 agree)');
    expect(line({ type: 'decision_fallback', reason: 'no valid answer', confidence: 0 })).toBe(
      'decision_recorded classify dec_1: fallback (confidence 0): no valid answer',
    );
  });
});
