/** Summary of a list of durations in milliseconds. */
export interface Timing {
  readonly runs: number;
  readonly medianMs: number;
  readonly meanMs: number;
  readonly p90Ms: number;
  readonly minMs: number;
}

export function summarize(samples: readonly number[]): Timing {
  const sorted = [...samples].sort((left, right) => left - right);
  return {
    runs: sorted.length,
    medianMs: round(quantile(sorted, 0.5)),
    meanMs: round(mean(sorted)),
    p90Ms: round(quantile(sorted, 0.9)),
    minMs: round(sorted[0] ?? Number.NaN),
  };
}

export function median(samples: readonly number[]): number {
  return quantile(
    [...samples].sort((left, right) => left - right),
    0.5,
  );
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((sum, value) => sum + value, 0) / samples.length;
}

/** The `q` quantile (0..1) of `samples`, interpolated between closest ranks. */
export function percentile(samples: readonly number[], q: number): number {
  return quantile(
    [...samples].sort((left, right) => left - right),
    q,
  );
}

/** Linear interpolation between closest ranks; `sorted` must be ascending. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] ?? Number.NaN;
  const high = sorted[upper] ?? Number.NaN;
  return low + (high - low) * (position - lower);
}

/** Rounds to 4 decimals so JSON figures stay readable (0.1 µs resolution for ms values). */
export function round(value: number, decimals = 4): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

/** Deterministic pseudo-random numbers, so every run of a bench sees the same workload. */
export { seededRandom } from '../src/core/index.js';
