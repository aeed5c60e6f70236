import { seededRandom } from '../core/index.js';

/** How a candidate compares with production on one metric, over the pairs that measured it. */
export const SHADOW_VERDICTS = ['better', 'same', 'worse', 'inconclusive'] as const;
/** How a candidate compares with production on one metric. */
export type ShadowVerdict = (typeof SHADOW_VERDICTS)[number];

/** One metric over the pairs: production and candidate means, the paired delta and its test. */
export interface PairedMetric {
  /** Pairs with a value on both sides. */
  readonly n: number;
  readonly production: number | null;
  readonly candidate: number | null;
  /** Mean of candidate − production. */
  readonly meanDelta: number | null;
  /** 95% bootstrap confidence interval of the mean delta (2,000 resamples, fixed seed). */
  readonly ci95: readonly [number, number] | null;
  /** Pairs where the candidate did better, worse, and the same. */
  readonly wins: number;
  readonly losses: number;
  readonly ties: number;
  /** Two-sided exact sign test over the pairs that differ. */
  readonly signTestP: number | null;
  readonly verdict: ShadowVerdict;
}

/** Below this p-value (and with the interval clear of zero) a difference counts. */
const SIGNIFICANCE = 0.05;
const RESAMPLES = 2_000;

/**
 * Compare paired values (`production[i]` with `candidate[i]`) where `higher` or `lower` is
 * better: `same` when no pair differs, `better`/`worse` when the sign test and the bootstrap
 * interval of the mean delta agree on a direction, else `inconclusive`.
 *
 * ```ts
 * pairedMetric([1, 1, 0], [1, 1, 1], 'higher') // { n: 3, wins: 1, ..., verdict: 'inconclusive' }
 * ```
 */
export function pairedMetric(
  production: readonly number[],
  candidate: readonly number[],
  better: 'higher' | 'lower',
): PairedMetric {
  const n = Math.min(production.length, candidate.length);
  const deltas = Array.from(
    { length: n },
    (_, index) => (candidate[index] ?? 0) - (production[index] ?? 0),
  );
  const improves = (delta: number) => (better === 'higher' ? delta > 0 : delta < 0);
  const wins = deltas.filter((delta) => delta !== 0 && improves(delta)).length;
  const losses = deltas.filter((delta) => delta !== 0 && !improves(delta)).length;
  const ties = n - wins - losses;
  if (n === 0) {
    return {
      n,
      production: null,
      candidate: null,
      meanDelta: null,
      ci95: null,
      wins,
      losses,
      ties,
      signTestP: null,
      verdict: 'inconclusive',
    };
  }
  const meanDelta = mean(deltas);
  const ci95 = bootstrapInterval(deltas);
  const signTestP = signTest(wins, losses);
  let verdict: ShadowVerdict = 'inconclusive';
  if (wins === 0 && losses === 0) verdict = 'same';
  else if (signTestP < SIGNIFICANCE && (ci95[0] > 0 || ci95[1] < 0))
    verdict = improves(meanDelta) ? 'better' : 'worse';
  return {
    n,
    production: mean(production.slice(0, n)),
    candidate: mean(candidate.slice(0, n)),
    meanDelta,
    ci95,
    wins,
    losses,
    ties,
    signTestP,
    verdict,
  };
}

/** Two-sided exact binomial sign test: the chance of a split this uneven under p = 1/2. */
export function signTest(wins: number, losses: number): number {
  const n = wins + losses;
  if (n === 0) return 1;
  const tail = Math.min(wins, losses);
  let probability = 0;
  let coefficient = 1; // C(n, 0)
  for (let k = 0; k <= tail; k++) {
    probability += coefficient / 2 ** n;
    coefficient = (coefficient * (n - k)) / (k + 1);
  }
  return Math.min(1, 2 * probability);
}

/** Percentile bootstrap 95% interval of the mean, with a fixed seed (the same data, the same interval). */
export function bootstrapInterval(values: readonly number[]): [number, number] {
  if (values.length === 0) return [0, 0];
  const random = seededRandom(0x5eed);
  const means: number[] = [];
  for (let resample = 0; resample < RESAMPLES; resample++) {
    let sum = 0;
    for (let index = 0; index < values.length; index++)
      sum += values[Math.floor(random() * values.length)] ?? 0;
    means.push(sum / values.length);
  }
  means.sort((a, b) => a - b);
  return [means[Math.floor(RESAMPLES * 0.025)] ?? 0, means[Math.ceil(RESAMPLES * 0.975) - 1] ?? 0];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}
