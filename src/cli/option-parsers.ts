import { InvalidArgumentError } from 'commander';

/** A `--limit`-style option: a whole number above zero. */
export function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

/** A count or a duration that may be zero: a whole number, 0 or more. */
export function nonNegativeInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('must be a whole number (0 or more)');
  return parsed;
}

/** A `--port` option: 0 (any free port) to 65535. */
export function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return parsed;
}
