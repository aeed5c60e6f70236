import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { JOURNAL_SCHEMA_VERSION, RUN_EVENT_TYPES, readEvent, type RunEvent } from './index.js';

function failureOf(read: () => unknown): { code: string; message: string } {
  try {
    read();
  } catch (error) {
    if (KeelError.isInstance(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a KeelError');
}

describe('readEvent', () => {
  it('returns a known event of the current format as it was stored', () => {
    const event: RunEvent = { type: 'run_claimed', workerId: 'w', claim: 2 };
    expect(readEvent(JSON.parse(JSON.stringify(event)), JOURNAL_SCHEMA_VERSION)).toEqual(event);
  });

  it('refuses an event type this version does not know as store_corrupt', () => {
    expect(failureOf(() => readEvent({ type: 'step_taken' }, 1))).toEqual({
      code: 'store_corrupt',
      message: 'unknown journal event type "step_taken"',
    });
    expect(failureOf(() => readEvent('text', 1)).code).toBe('store_corrupt');
    expect(failureOf(() => readEvent(null, 1)).code).toBe('store_corrupt');
  });

  it('refuses an event written in a newer format instead of misreading it', () => {
    const failure = failureOf(() =>
      readEvent({ type: 'run_claimed', workerId: 'w', claim: 1 }, JOURNAL_SCHEMA_VERSION + 1),
    );
    expect(failure.code).toBe('store_corrupt');
    expect(failure.message).toContain('upgrade Keel');
  });

  it('lists each event type once', () => {
    expect(new Set(RUN_EVENT_TYPES).size).toBe(RUN_EVENT_TYPES.length);
  });
});
