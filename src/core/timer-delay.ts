/** The longest delay a Node.js timer waits: 2^31 - 1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * `ms` as a timer can wait it. Node fires a timer asked for longer than `MAX_TIMER_MS` after
 * 1 ms (with a `TimeoutOverflowWarning`), which would turn a poll, a back-off or a time-out of a
 * month into a busy loop or an instant failure: the longest wait stands in for any longer one.
 * Every timer Keel sets with a delay it was given or computed goes through this.
 *
 * ```ts
 * setTimeout(poll, timerDelay(pollMs));
 * ```
 */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}
