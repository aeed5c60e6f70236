import type { CaseResult, SuiteResult } from './run-suite.js';

/** One case as reports and baselines keep it. */
export interface CaseSummary {
  /** `<suite> › <case>`: unique across the suites of one evaluation. */
  readonly name: string;
  readonly suite: string;
  readonly case: string;
  readonly agent: string;
  readonly passed: boolean;
  readonly passAt1: number;
  /** 1 when all k attempts passed, else 0. */
  readonly passHatK: number;
  readonly k: number;
  /** Means over the attempts. */
  readonly costUsd: number;
  readonly latencyMs: number;
  readonly steps: number;
  readonly suppressedCalls: number;
  readonly failures: readonly {
    readonly attempt: number;
    readonly assertion: string;
    readonly message: string;
  }[];
  /** Against the baseline, when one was given. */
  readonly baseline?: CaseComparison | undefined;
}

/** The metrics compared with a baseline. */
export const COMPARED_METRICS = ['costUsd', 'latencyMs', 'steps'] as const;
/** A metric compared with a baseline. */
export type ComparedMetric = (typeof COMPARED_METRICS)[number];

/** A case against its baseline: its pass/fail change and the metric deltas. */
export interface CaseComparison {
  readonly change: 'pass→fail' | 'fail→pass' | 'unchanged' | 'new';
  readonly deltas: Readonly<Partial<Record<ComparedMetric, number>>>;
}

/** What got worse against the baseline. */
export interface Regression {
  readonly case: string;
  readonly kind: 'status' | ComparedMetric;
  readonly before: number | string;
  readonly after: number | string;
  readonly delta?: number | undefined;
}

/** An evaluation's report: what `keel eval --json` prints and what is stored. */
export interface EvalReport {
  readonly suite: string;
  readonly cases: readonly CaseSummary[];
  readonly passed: number;
  readonly failed: number;
  readonly regressions: readonly Regression[];
  readonly passAt1: number;
  readonly passHatK: number;
  readonly k: number;
  /** The agents' spending; judges' is apart. */
  readonly costUsd: number;
  readonly durationMs: number;
}

/**
 * The report of one or more suite results, compared with a baseline's cases when given.
 *
 * ```ts
 * const report = evalReport([await runSuite(suite)], { baseline: previous.cases });
 * ```
 */
export function evalReport(
  results: readonly SuiteResult[],
  { baseline }: { baseline?: readonly CaseSummary[] | undefined } = {},
): EvalReport {
  const cases = results.flatMap((result) =>
    result.cases.map((evalCase) => summariseCase(result.suite, result.k, evalCase)),
  );
  const regressions: Regression[] = [];
  const compared = cases.map((summary) => {
    if (!baseline) return summary;
    const before = baseline.find((candidate) => candidate.name === summary.name);
    const comparison = compareCase(summary, before, regressions);
    return { ...summary, baseline: comparison };
  });
  const passed = compared.filter((summary) => summary.passed).length;
  const mean = (values: readonly number[]): number =>
    values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
  return {
    suite: results.map((result) => result.suite).join(', '),
    cases: compared,
    passed,
    failed: compared.length - passed,
    regressions,
    passAt1: round(mean(compared.map((summary) => summary.passAt1))),
    passHatK: round(mean(compared.map((summary) => summary.passHatK))),
    k: Math.min(...results.map((result) => result.k)),
    costUsd: round(results.reduce((sum, result) => sum + result.costUsd, 0)),
    durationMs: results.reduce((sum, result) => sum + result.durationMs, 0),
  };
}

function summariseCase(suite: string, k: number, result: CaseResult): CaseSummary {
  const mean = (pick: (attempt: CaseResult['attempts'][number]) => number): number =>
    result.attempts.length === 0
      ? 0
      : round(
          result.attempts.reduce((sum, attempt) => sum + pick(attempt), 0) / result.attempts.length,
        );
  return {
    name: `${suite} › ${result.name}`,
    suite,
    case: result.name,
    agent: result.agent,
    passed: result.passed,
    passAt1: result.passAt1,
    passHatK: result.passed ? 1 : 0,
    k,
    costUsd: mean((attempt) => attempt.costUsd),
    latencyMs: mean((attempt) => attempt.latencyMs),
    steps: mean((attempt) => attempt.steps),
    suppressedCalls: mean((attempt) => attempt.suppressedCalls),
    failures: result.attempts.flatMap((attempt) => [
      ...(attempt.error === undefined
        ? []
        : [{ attempt: attempt.attempt, assertion: 'run', message: attempt.error }]),
      ...attempt.assertions
        .filter((check) => !check.pass)
        .map((check) => ({
          attempt: attempt.attempt,
          assertion: check.label,
          message: check.message,
        })),
    ]),
  };
}

/**
 * How much worse a metric may get before it counts as a regression: by this share, and by at
 * least this much (small absolute changes are noise).
 */
const TOLERANCE: Readonly<Record<ComparedMetric, { share: number; floor: number }>> = {
  costUsd: { share: 0.2, floor: 0.0001 },
  latencyMs: { share: 0.5, floor: 250 },
  steps: { share: 0, floor: 0.5 },
};

function compareCase(
  summary: CaseSummary,
  before: CaseSummary | undefined,
  regressions: Regression[],
): CaseComparison {
  if (!before) return { change: 'new', deltas: {} };
  const change =
    before.passed && !summary.passed
      ? 'pass→fail'
      : !before.passed && summary.passed
        ? 'fail→pass'
        : 'unchanged';
  if (change === 'pass→fail') {
    regressions.push({ case: summary.name, kind: 'status', before: 'pass', after: 'fail' });
  }
  const deltas: Partial<Record<ComparedMetric, number>> = {};
  for (const metric of COMPARED_METRICS) {
    const delta = round(summary[metric] - before[metric]);
    deltas[metric] = delta;
    const { share, floor } = TOLERANCE[metric];
    if (delta > floor && delta > before[metric] * share) {
      regressions.push({
        case: summary.name,
        kind: metric,
        before: before[metric],
        after: summary[metric],
        delta,
      });
    }
  }
  return { change, deltas };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
