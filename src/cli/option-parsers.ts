import { InvalidArgumentError } from 'commander';
import { MAX_LIST_LIMIT } from '../core/index.js';

/** A `--limit`-style option: a whole number above zero. */
export function positiveInt(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

/** A `--limit` option: a whole number from 1 to {@link MAX_LIST_LIMIT}. */
export function limit(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed <= 0 || parsed > MAX_LIST_LIMIT)
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  return parsed;
}

/** A count or a duration that may be zero: a whole number, 0 or more. */
export function nonNegativeInt(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed < 0)
    throw new InvalidArgumentError('must be a whole number (0 or more)');
  return parsed;
}

/** A `--port` option: 0 (any free port) to 65535. */
export function port(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed === undefined || parsed < 0 || parsed > 65_535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return parsed;
}

/**
 * A `--host` option: an address to listen on. An empty one would listen on every interface, so
 * an unset `--host "$HOST"` would expose the server; every interface is asked for by name.
 */
export function host(value: string): string {
  if (value.trim() === '')
    throw new InvalidArgumentError(
      'must be a host name or address (to listen on every interface, give 0.0.0.0 or ::)',
    );
  return value;
}

/**
 * `value` as a safe integer, or undefined. `Number('')` and `Number(' ')` are 0, so blank text
 * is refused first; past 2^53 integers are no longer exact, and the store refuses them.
 */
function wholeNumber(value: string): number | undefined {
  if (value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
