import { describe, expect, it } from 'vitest';
import { Sessions, sameSecret } from './sessions.js';

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('Sessions', () => {
  it('keeps a session while it is used, and ends it after idling or at its maximum age', () => {
    const time = clock();
    const sessions = new Sessions({ clock: time, idleMs: 1_000, maxAgeMs: 2_500 });
    const session = sessions.create('keel_apr_token');
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.csrf).not.toBe(session.id);
    time.advance(900);
    expect(sessions.get(session.id)?.token).toBe('keel_apr_token');
    time.advance(900);
    expect(sessions.get(session.id)?.token).toBe('keel_apr_token');
    time.advance(900);
    // Used 900 ms ago, but 2.7 s after sign-in: past its maximum age.
    expect(sessions.get(session.id)).toBeUndefined();

    const idle = sessions.create('keel_apr_token');
    time.advance(1_001);
    expect(sessions.get(idle.id)).toBeUndefined();
    expect(sessions.get(undefined)).toBeUndefined();
    expect(sessions.get('forged')).toBeUndefined();
  });

  it('ends a session on sign-out', () => {
    const sessions = new Sessions({ clock: clock() });
    const session = sessions.create('t');
    sessions.delete(session.id);
    expect(sessions.get(session.id)).toBeUndefined();
  });

  it('compares secrets whole', () => {
    expect([
      sameSecret('abc', 'abc'),
      sameSecret('abd', 'abc'),
      sameSecret('ab', 'abc'),
      sameSecret(undefined, 'abc'),
    ]).toEqual([true, false, false, false]);
  });
});
