import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import {
  FRESH_BUDGET,
  PACED_MINUTE_MS,
  WINDOW_MARGIN_MS,
  admit,
  type BudgetState,
} from './provider-budgets.js';

/**
 * Eight workers on a fake clock, each asking the shared budget as soon as it may, their
 * requests reaching the provider `delay()` ms after they were paced. Returns the most requests
 * the provider saw in any 60 s window, as it counts: (t − 60 s, t].
 */
function busiestMinute(
  rpm: number,
  delay: (pacedAt: number) => number,
  random: () => number,
): number {
  let state: BudgetState = FRESH_BUDGET;
  const arrivals: number[] = [];
  const nextAsk = Array.from({ length: 8 }, () => Math.floor(random() * 100));
  for (;;) {
    const now = Math.min(...nextAsk);
    if (now > 5 * 60_000) break;
    const worker = nextAsk.indexOf(now);
    const { waitMs, next } = admit(state, { key: 'openai', rpm, tokens: 0, now });
    state = next;
    if (waitMs === 0) arrivals.push(now + delay(now));
    nextAsk[worker] = now + Math.max(1, waitMs) + Math.floor(random() * 5);
  }
  arrivals.sort((left, right) => left - right);
  let most = 0;
  let first = 0;
  for (let last = 0; last < arrivals.length; last++) {
    while ((arrivals[first] ?? 0) <= (arrivals[last] ?? 0) - 60_000) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

describe('provider budgets against a rolling minute', () => {
  it('never lets the provider see more than rpm in any 60 s when requests arrive up to 2 s late', () => {
    for (const rpm of [1, 7, 60, 600]) {
      const random = seededRandom(rpm);
      const most = busiestMinute(rpm, () => random() * 2_000, random);
      expect(most, `rpm ${rpm}`).toBeLessThanOrEqual(rpm);
      // Nor idle: the busiest minute holds what the paced minute allows (the margin's cost).
      expect(most, `rpm ${rpm}`).toBeGreaterThanOrEqual(
        Math.floor((rpm * 60_000) / PACED_MINUTE_MS) - 1,
      );
    }
  });

  it('is breached by travel times beyond the margin (the margin is what holds the bound)', () => {
    const random = seededRandom(60);
    // Requests held up by two and a half margins for a minute, then on time: the minute around
    // the change sees the late ones and the prompt ones together.
    const most = busiestMinute(
      60,
      (pacedAt) => (pacedAt % 120_000 < 60_000 ? 2.5 * WINDOW_MARGIN_MS : 0),
      random,
    );
    expect(most).toBeGreaterThan(60);
  });
});
