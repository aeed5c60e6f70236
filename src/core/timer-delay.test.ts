import { describe, expect, it } from 'vitest';
import { sleep } from './abort.js';
import { MAX_TIMER_MS, timerDelay } from './timer-delay.js';

/** Resolves to 'waiting' after `ms` of real time, unless `work` settles first. */
function settlesWithin(work: Promise<unknown>, ms: number): Promise<string> {
  return Promise.race([
    work.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise<string>((resolve) => {
      setTimeout(() => {
        resolve('waiting');
      }, ms);
    }),
  ]);
}

describe('timerDelay', () => {
  it('keeps a delay a timer can wait and caps a longer one at 2^31 - 1 ms', () => {
    expect([timerDelay(0), timerDelay(250), timerDelay(MAX_TIMER_MS)]).toEqual([
      0, 250, 2_147_483_647,
    ]);
    expect([timerDelay(MAX_TIMER_MS + 1), timerDelay(Number.MAX_SAFE_INTEGER)]).toEqual([
      MAX_TIMER_MS,
      MAX_TIMER_MS,
    ]);
  });
});

describe('sleep', () => {
  // Every retry back-off (tools, models, webhooks, decisions) waits through sleep: a Node timer
  // asked for 2^31 ms fires after 1 ms, so each retry came at once.
  it('waits on a delay longer than a timer can hold, instead of waking after 1 ms', async () => {
    const controller = new AbortController();
    const slept = sleep(2 ** 31, { signal: controller.signal });
    expect(await settlesWithin(slept, 60)).toBe('waiting');
    controller.abort(new Error('done'));
    await expect(slept).rejects.toThrow('done');
  });

  it('still wakes after a short delay', async () => {
    expect(await settlesWithin(sleep(5), 1_000)).toBe('settled');
  });
});
