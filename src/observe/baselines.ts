import type { RunMetrics } from './run-metrics.js';

/** The per-run figures an agent's baseline tracks. */
export const BASELINE_METRICS = [
  'tokens',
  'costUsd',
  'durationMs',
  'iterations',
  'toolErrorRate',
] as const;
/** One figure a baseline keeps. */
export type BaselineMetric = (typeof BASELINE_METRICS)[number];

/** An agent's normal figures (steps, tokens, cost, duration), from its recent runs. */
export interface Baseline {
  /** Runs the figures come from. */
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
  readonly stddev: number;
}

/**
 * Order statistics of `values` (nearest rank), or `undefined` for none.
 *
 * ```ts
 * baselineOf([10, 20, 30]) // { n: 3, p50: 20, p95: 30, mean: 20, stddev: 8.16… }
 * ```
 */
export function baselineOf(values: readonly number[]): Baseline | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (quantile: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)] ?? 0;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const variance = sorted.reduce((sum, value) => sum + (value - mean) ** 2, 0) / sorted.length;
  return { n: sorted.length, p50: rank(0.5), p95: rank(0.95), mean, stddev: Math.sqrt(variance) };
}

/** One metric's value for a run; `undefined` when the run has none (an unknown cost). */
export function metricValue(metrics: RunMetrics, metric: BaselineMetric): number | undefined {
  const value = metrics[metric];
  return value === null ? undefined : value;
}

/** An agent's baselines over the given earlier runs, per metric (absent when no run has it). */
export function agentBaselines(
  history: readonly RunMetrics[],
): Partial<Record<BaselineMetric, Baseline>> {
  const baselines: Partial<Record<BaselineMetric, Baseline>> = {};
  for (const metric of BASELINE_METRICS) {
    const values = history
      .map((run) => metricValue(run, metric))
      .filter((value) => value !== undefined);
    const baseline = baselineOf(values);
    if (baseline) baselines[metric] = baseline;
  }
  return baselines;
}
