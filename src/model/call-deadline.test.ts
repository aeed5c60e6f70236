import { describe, expect, it } from 'vitest';
import { callDeadline } from './call-deadline.js';

describe('callDeadline', () => {
  it("aborts with the caller's reason when the caller's signal aborts, and is not expired", () => {
    const caller = new AbortController();
    const deadline = callDeadline(60_000, caller.signal);
    caller.abort('run cancelled');
    expect([deadline.signal.aborted, deadline.signal.reason, deadline.expired]).toEqual([
      true,
      'run cancelled',
      false,
    ]);
    deadline.clear();
  });

  it('starts aborted for a caller whose signal already aborted', () => {
    const deadline = callDeadline(60_000, AbortSignal.abort('gone'));
    expect([deadline.signal.aborted, deadline.signal.reason]).toEqual([true, 'gone']);
    deadline.clear();
  });

  it("once cleared, is left alone by the caller's later abort", () => {
    const caller = new AbortController();
    const deadline = callDeadline(60_000, caller.signal);
    deadline.clear();
    caller.abort();
    expect(deadline.signal.aborted).toBe(false);
  });

  it('expires on its own after timeoutMs', async () => {
    const deadline = callDeadline(5);
    await new Promise((resolve) => {
      deadline.signal.addEventListener('abort', resolve);
    });
    expect([deadline.expired, deadline.stalled]).toEqual([true, false]);
  });
});
