import { randomUUID } from 'node:crypto';
import { KeelError } from '../core/index.js';
import type { Store, StoredEvalAttempt } from '../store/index.js';
import { checkAssertion, storedJudge, type AssertionResult } from './check-assertion.js';
import type { CaseSummary, EvalReport } from './eval-report.js';
import type { Judgement } from './judge.js';
import {
  caseAssertions,
  caseResult,
  summarise,
  type AttemptResult,
  type CaseResult,
  type SuiteResult,
} from './run-suite.js';
import { runView, type JournalEntry } from './run-view.js';
import type { EvalSuite } from './suite.js';

/**
 * Store an evaluation: its report and every attempt with its run's journal. Returns its id.
 *
 * ```ts
 * const id = await storeEvaluation(store, { report, results, sources: ['evals/refunds.eval.ts'] });
 * ```
 */
export async function storeEvaluation(
  store: Store,
  {
    report,
    results,
    sources,
    createdAt = Date.now(),
    rescoreOf,
  }: {
    report: EvalReport;
    results: readonly SuiteResult[];
    sources: readonly string[];
    createdAt?: number;
    rescoreOf?: string | undefined;
  },
): Promise<string> {
  const id = `ev_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const attempts: StoredEvalAttempt[] = results.flatMap((result) =>
    result.cases.flatMap((evalCase) =>
      evalCase.attempts.map(({ journal, ...rest }) => ({
        evalRunId: id,
        caseName: `${result.suite} › ${evalCase.name}`,
        attempt: rest.attempt,
        runId: rest.runId,
        passed: rest.passed,
        result: { ...rest, agent: evalCase.agent },
        journal,
      })),
    ),
  );
  await store.evals.save(
    {
      id,
      suite: report.suite,
      sources,
      createdAt,
      passed: report.passed,
      failed: report.failed,
      k: report.k,
      passAt1: report.passAt1,
      passHatK: report.passHatK,
      costUsd: report.costUsd,
      durationMs: report.durationMs,
      ...(rescoreOf === undefined ? {} : { rescoreOf }),
      report,
    },
    attempts,
  );
  return id;
}

/** A stored evaluation's case summaries: what `--baseline <id>` compares with. */
export async function storedBaseline(
  store: Store,
  evalRunId: string,
): Promise<readonly CaseSummary[]> {
  const stored = await store.evals.get(evalRunId);
  if (!stored)
    throw new KeelError('not_found', `no stored eval run ${evalRunId} in ${store.location}`);
  return (stored.report as EvalReport).cases;
}

/**
 * Judge a stored evaluation's journals again with the suites' current assertions, calling no
 * model: nothing runs, and an `llm-rubric` reuses the judgement stored for the same rubric
 * and output (a changed one is reported as not judged).
 *
 * ```ts
 * const { results } = await rescoreEvaluation(store, 'ev_…', [suite]);
 * ```
 */
export async function rescoreEvaluation(
  store: Store,
  evalRunId: string,
  suites: readonly { readonly name: string; readonly suite: EvalSuite }[],
): Promise<{ results: SuiteResult[]; sources: readonly string[] }> {
  const stored = await store.evals.get(evalRunId);
  if (!stored)
    throw new KeelError('not_found', `no stored eval run ${evalRunId} in ${store.location}`);
  const attempts = await store.evals.attempts(evalRunId);
  const results: SuiteResult[] = [];
  for (const { name, suite } of suites) {
    const cases: CaseResult[] = [];
    for (const evalCase of suite.cases) {
      const stored = attempts.filter(
        (attempt) => attempt.caseName === `${name} › ${evalCase.name}`,
      );
      if (stored.length === 0) continue;
      const rescored: AttemptResult[] = [];
      for (const attempt of stored) rescored.push(await rescoreAttempt(suite, evalCase, attempt));
      cases.push(caseResult(evalCase.name, agentOf(stored[0]), rescored));
    }
    const k = Math.max(0, ...cases.map((result) => result.attempts.length));
    results.push(summarise(name, k, cases, 0));
  }
  return { results, sources: stored.sources };
}

async function rescoreAttempt(
  suite: EvalSuite,
  evalCase: EvalSuite['cases'][number],
  attempt: StoredEvalAttempt,
): Promise<AttemptResult> {
  const previous = attempt.result as AttemptResult;
  const journal = attempt.journal as JournalEntry[];
  const judgements: Judgement[] = (previous.assertions ?? []).flatMap((result: AssertionResult) =>
    result.judgement ? [result.judgement] : [],
  );
  const judge = storedJudge(judgements);
  const view = runView(journal);
  const assertions: AssertionResult[] = [];
  for (const assertion of caseAssertions(suite, evalCase)) {
    assertions.push(await checkAssertion(assertion, view, { judge }));
  }
  return {
    ...previous,
    passed: previous.error === undefined && assertions.every((result) => result.pass),
    assertions,
    judgeCostUsd: 0,
    journal,
  };
}

function agentOf(attempt: StoredEvalAttempt | undefined): string {
  return ((attempt?.result as { agent?: string } | undefined)?.agent ?? '') || 'unknown';
}
