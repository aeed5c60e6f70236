import { systemClock, type Clock } from '../core/index.js';

/** Anything with a `get(name)` for response headers, such as the standard `Headers` class. */
export interface HeaderSource {
  get(name: string): string | null;
}

export interface ParseRetryAfterOptions {
  /** The clock an HTTP-date `retry-after` is measured against. */
  readonly clock?: Clock;
}

const DELAY_SECONDS = /^\s*\d+(\.\d+)?\s*$/;

/**
 * How long the provider asked us to wait, in milliseconds, or `undefined` when it did not say.
 * Reads `retry-after-ms` (OpenAI's non-standard header) first, then `retry-after` as either
 * delay-seconds or an HTTP date. A date in the past gives 0.
 *
 * ```ts
 * parseRetryAfter(new Headers({ 'retry-after': '2' })); // 2000
 * parseRetryAfter(new Headers({ 'retry-after-ms': '150' })); // 150
 * parseRetryAfter(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })); // 0 (past)
 * ```
 */
export function parseRetryAfter(
  headers: HeaderSource | null | undefined,
  { clock = systemClock }: ParseRetryAfterOptions = {},
): number | undefined {
  if (!headers) return undefined;

  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && DELAY_SECONDS.test(milliseconds)) {
    return Math.ceil(Number(milliseconds));
  }

  const retryAfter = headers.get('retry-after');
  if (retryAfter === null) return undefined;
  if (DELAY_SECONDS.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);

  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - clock.now());
}
