/**
 * The CLI's JSON: indented, with fractions to 12 significant digits, so sums of prices print
 * `0.001698`, not `0.0016979999999999999`. Integers (timestamps, counts) are untouched.
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, tidyNumber, 2);
}

function tidyNumber(_key: string, value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) && !Number.isInteger(value)
    ? Number(value.toPrecision(12))
    : value;
}
