import { randomUUID } from 'node:crypto';
import { resolveRunModel, type Agent } from '../agent/index.js';
import { KeelError, sleep } from '../core/index.js';
import { createRuntime, newRunId, type Runtime } from '../engine/index.js';
import { resolveModel, type ModelAdapterV1 } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { checkAssertion, type AssertionResult } from './check-assertion.js';
import { modelJudge, type Judge } from './judge.js';
import { runView, type JournalEntry } from './run-view.js';
import type { ApprovalAnswer, EvalCase, EvalSuite } from './suite.js';
import { serveFixtures, sideEffectInterceptor } from './tool-fixtures.js';

/** One run of one case. */
export interface AttemptResult {
  readonly attempt: number;
  readonly seed: number;
  readonly runId: string;
  readonly status: string;
  readonly passed: boolean;
  readonly assertions: readonly AssertionResult[];
  readonly output: string;
  readonly costUsd: number;
  /** What `llm-rubric` judges cost: apart from the agent's cost. */
  readonly judgeCostUsd: number;
  readonly latencyMs: number;
  readonly steps: number;
  readonly tokens: number;
  readonly suppressedCalls: number;
  /** Calls whose tool really ran (live reads). */
  readonly executedCalls: number;
  /** Set when the run could not be executed at all (a fault, not a failed property). */
  readonly error?: string | undefined;
  /** The run's journal: what a re-score judges again. */
  readonly journal: readonly JournalEntry[];
}

/** One case over its k attempts. */
export interface CaseResult {
  readonly name: string;
  readonly agent: string;
  /** pass^k: every attempt passed. */
  readonly passed: boolean;
  /** The share of attempts that passed. */
  readonly passAt1: number;
  readonly attempts: readonly AttemptResult[];
}

/** A suite's result: per case, and pass@1 / pass^k over the cases. */
export interface SuiteResult {
  readonly suite: string;
  readonly k: number;
  readonly cases: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  /** Mean over cases of the share of attempts that passed. */
  readonly passAt1: number;
  /** Share of cases whose k attempts all passed. */
  readonly passHatK: number;
  readonly costUsd: number;
  readonly judgeCostUsd: number;
  readonly durationMs: number;
}

/** How a suite is run: the agents, overrides of k and the model, progress, a judge. */
export interface RunSuiteOptions {
  /** Agents to find case agents among, after the suite's own. */
  readonly agents?: readonly Agent[] | undefined;
  /** Overrides the suite's `repeat`. */
  readonly repeat?: number | undefined;
  /** A model string every case's agent runs on instead of its own. */
  readonly model?: string | undefined;
  readonly resolveModel?: ((spec: string, agent: Agent) => ModelAdapterV1) | undefined;
  /** Judges `llm-rubric` assertions (default: a model judge on the suite's `judge`). */
  readonly judge?: Judge | undefined;
  /** Called after each attempt. */
  readonly onProgress?: ((progress: { done: number; total: number }) => void) | undefined;
  /** Only cases whose name passes. */
  readonly only?: ((name: string) => boolean) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Run every case of a suite k times, each with another seed, on a throwaway in-memory store:
 * side effects are served from fixtures or suppressed, never executed. Each attempt's
 * assertions read its journal.
 *
 * ```ts
 * const result = await runSuite(suite, { agents });
 * console.log(`${result.passed} passed, ${result.failed} failed; pass^${result.k} ${result.passHatK}`);
 * ```
 */
export async function runSuite(
  suite: EvalSuite,
  options: RunSuiteOptions & { readonly name?: string } = {},
): Promise<SuiteResult> {
  const startedAt = performance.now();
  const k = options.repeat ?? suite.repeat;
  const cases = suite.cases.filter((evalCase) => options.only?.(evalCase.name) ?? true);
  const total = cases.length * k;
  let done = 0;
  const store = await openStore('sqlite::memory:');
  const results: CaseResult[] = [];
  try {
    for (const evalCase of cases) {
      results.push(
        await runCaseOn(store, suite, evalCase, {
          ...options,
          repeat: k,
          onAttempt: () => {
            done += 1;
            options.onProgress?.({ done, total });
          },
        }),
      );
    }
  } finally {
    await store.close();
  }
  return summarise(
    options.name ?? suite.name ?? 'suite',
    k,
    results,
    performance.now() - startedAt,
  );
}

/**
 * Run one case of a suite k times: for a test runner, one test per case.
 *
 * ```ts
 * for (const evalCase of suite.cases)
 *   it(evalCase.name, async () => expect((await runCase(suite, evalCase.name, { agents })).passed).toBe(true));
 * ```
 */
export async function runCase(
  suite: EvalSuite,
  caseName: string,
  options: RunSuiteOptions = {},
): Promise<CaseResult> {
  const evalCase = suite.cases.find((candidate) => candidate.name === caseName);
  if (!evalCase) throw new KeelError('not_found', `the suite has no case "${caseName}"`);
  const store = await openStore('sqlite::memory:');
  try {
    return await runCaseOn(store, suite, evalCase, options);
  } finally {
    await store.close();
  }
}

/** pass@1 and pass^k over case results. */
export function summarise(
  suite: string,
  k: number,
  cases: readonly CaseResult[],
  durationMs: number,
): SuiteResult {
  const passed = cases.filter((result) => result.passed).length;
  const attempts = cases.flatMap((result) => result.attempts);
  const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
  return {
    suite,
    k,
    cases,
    passed,
    failed: cases.length - passed,
    passAt1:
      cases.length === 0 ? 0 : round(sum(cases.map((result) => result.passAt1)) / cases.length),
    passHatK: cases.length === 0 ? 0 : round(passed / cases.length),
    costUsd: round(sum(attempts.map((attempt) => attempt.costUsd))),
    judgeCostUsd: round(sum(attempts.map((attempt) => attempt.judgeCostUsd))),
    durationMs: Math.round(durationMs),
  };
}

/** A case's result from its attempts. */
export function caseResult(
  name: string,
  agent: string,
  attempts: readonly AttemptResult[],
): CaseResult {
  const passedAttempts = attempts.filter((attempt) => attempt.passed).length;
  return {
    name,
    agent,
    passed: attempts.length > 0 && passedAttempts === attempts.length,
    passAt1: attempts.length === 0 ? 0 : round(passedAttempts / attempts.length),
    attempts,
  };
}

/** The assertions of a case: the suite's, then its own. */
export function caseAssertions(suite: EvalSuite, evalCase: EvalCase) {
  return [...(suite.expect ?? []), ...evalCase.expect];
}

async function runCaseOn(
  store: Store,
  suite: EvalSuite,
  evalCase: EvalCase,
  options: RunSuiteOptions & { onAttempt?: () => void },
): Promise<CaseResult> {
  const k = options.repeat ?? suite.repeat;
  const agentName = evalCase.agent ?? suite.agent ?? '';
  const base = [...(suite.agents ?? []), ...(options.agents ?? [])].find(
    (agent) => agent.name === agentName,
  );
  if (!base) {
    const known = [...(suite.agents ?? []), ...(options.agents ?? [])].map((agent) => agent.name);
    throw new KeelError(
      'not_found',
      `case "${evalCase.name}" runs agent "${agentName}", which is not loaded (agents: ${known.join(', ') || 'none'})`,
    );
  }
  const resolve = options.resolveModel ?? resolveRunModel;
  const model = options.model === undefined ? base.model : resolve(options.model, base);
  const judge =
    options.judge ??
    modelJudge({ fallback: suite.judge, resolve: (spec) => resolveModel(spec, undefined) });
  const attempts: AttemptResult[] = [];
  for (let attempt = 1; attempt <= k; attempt++) {
    options.signal?.throwIfAborted();
    const seed = suite.seed + attempt - 1;
    attempts.push(
      await runAttempt({
        store,
        suite,
        evalCase,
        agent: base.withModel(seeded(model, seed)),
        attempt,
        seed,
        judge,
      }),
    );
    options.onAttempt?.();
  }
  return caseResult(evalCase.name, agentName, attempts);
}

async function runAttempt({
  store,
  suite,
  evalCase,
  agent,
  attempt,
  seed,
  judge,
}: {
  store: Store;
  suite: EvalSuite;
  evalCase: EvalCase;
  agent: Agent;
  attempt: number;
  seed: number;
  judge: Judge;
}): Promise<AttemptResult> {
  const runId = newRunId();
  const runtime = createRuntime({
    store,
    agents: [agent],
    modelRetry: { initialDelayMs: 0, maxDelayMs: 0 },
    interceptToolCall: sideEffectInterceptor({
      serve: serveFixtures([
        ...(evalCase.fixtures ?? []),
        ...(evalCase.suiteFixtures === false ? [] : (suite.fixtures ?? [])),
      ]),
      liveReads: evalCase.liveReads ?? suite.liveReads ?? false,
    }),
  });
  const answering = new AbortController();
  let error: string | undefined;
  try {
    const limits = evalCase.limits ?? suite.limits;
    await Promise.all([
      runtime
        .run(agent.name, evalCase.task, { runId, ...(limits ? { limits } : {}) })
        .finally(() => {
          answering.abort();
        }),
      answerApprovals(
        runtime,
        runId,
        evalCase.approvals ?? suite.approvals ?? 'deny',
        answering.signal,
      ),
    ]);
  } catch (thrown) {
    if (KeelError.isInstance(thrown) && thrown.code === 'invalid_definition') throw thrown;
    error = thrown instanceof Error ? thrown.message : String(thrown);
  } finally {
    answering.abort();
    await runtime.close();
  }
  const journal: JournalEntry[] = (await store.readEvents(runId)).map(({ at, event }) => ({
    at,
    event,
  }));
  const view = runView(journal);
  const assertions: AssertionResult[] = [];
  for (const assertion of caseAssertions(suite, evalCase)) {
    assertions.push(await checkAssertion(assertion, view, { judge }));
  }
  return {
    attempt,
    seed,
    runId,
    status: view.status ?? 'unfinished',
    passed: error === undefined && assertions.every((result) => result.pass),
    assertions,
    output: view.output,
    costUsd: round(view.costUsd),
    judgeCostUsd: round(
      assertions.reduce((sum, result) => sum + (result.judgement?.costUsd ?? 0), 0),
    ),
    latencyMs: view.latencyMs,
    steps: view.steps,
    tokens: view.inputTokens + view.outputTokens,
    suppressedCalls: view.calls.filter((call) => call.fate === 'suppressed').length,
    executedCalls: view.calls.filter((call) => call.fate === 'executed').length,
    ...(error === undefined ? {} : { error }),
    journal,
  };
}

/**
 * The scripted human of an evaluation: approves or denies every call the run holds for a
 * decision, until the run ends.
 */
async function answerApprovals(
  runtime: Runtime,
  runId: string,
  answer: ApprovalAnswer,
  signal: AbortSignal,
): Promise<void> {
  const answered = new Set<string>();
  const tokens = new Map<string, string>();
  while (!signal.aborted) {
    for (const approval of await runtime.store.approvals.list({ states: ['pending'], runId })) {
      if (answered.has(approval.id)) continue;
      answered.add(approval.id);
      let token = tokens.get(approval.approverGroup);
      if (token === undefined) {
        ({ token } = await runtime.approvals.addApprover({
          // Names are unique in a store: each evaluation's own.
          name: `eval-${approval.approverGroup.slice(0, 40)}-${randomUUID().slice(0, 8)}`,
          groups: [approval.approverGroup],
        }));
        tokens.set(approval.approverGroup, token);
      }
      await runtime.approvals.decide({
        token,
        id: approval.id,
        decision: answer,
        argsHash: approval.argsHash,
        reason: `evaluation: every held call is ${answer === 'approve' ? 'approved' : 'denied'}`,
      });
    }
    await sleep(5, { signal }).catch(() => undefined);
  }
}

/** The model with a seed on every request: attempt i of a case asks with seed + i. */
export function seeded(model: ModelAdapterV1, seed: number): ModelAdapterV1 {
  const estimate = model.estimateInputTokens?.bind(model);
  const count = model.countInputTokens?.bind(model);
  return {
    specificationVersion: 'v1',
    provider: model.provider,
    modelId: model.modelId,
    price: model.price,
    tier: model.tier,
    ...(model.fallbacks ? { fallbacks: model.fallbacks.map((next) => seeded(next, seed)) } : {}),
    ...(estimate ? { estimateInputTokens: estimate } : {}),
    ...(count ? { countInputTokens: count } : {}),
    doGenerate(request, options) {
      return model.doGenerate({ ...request, seed: request.seed ?? seed }, options);
    },
  };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
