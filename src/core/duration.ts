import { KeelError } from './keel-error.js';

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;

/**
 * Milliseconds in a duration written as a whole number and a unit: `500ms`, `30s`, `15m`,
 * `12h`, `30d`, `2w`. Anything else throws `invalid_input` naming `field`.
 *
 * ```ts
 * parseDuration('30d', 'olderThan') // 2_592_000_000
 * ```
 */
export function parseDuration(text: unknown, field: string): number {
  const match = typeof text === 'string' ? DURATION.exec(text.trim()) : null;
  const amount = match ? Number(match[1]) : 0;
  if (!match || amount <= 0)
    throw new KeelError(
      'invalid_input',
      `${field} must be a positive duration such as 30d, 12h, 15m or 30s (got ${JSON.stringify(text)?.slice(0, 40) ?? String(text)})`,
    );
  return amount * UNITS[match[2] as keyof typeof UNITS];
}
