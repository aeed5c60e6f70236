import { canonicalJson } from '../core/index.js';
import { foldRun, type RunEvent } from '../journal/index.js';
import type { ShadowPair, ShadowRecord, Store } from '../store/index.js';
import type { EvalAssertion } from './assertions.js';
import { checkAssertion, type AssertionResult } from './check-assertion.js';
import type { Judge } from './judge.js';
import { runView } from './run-view.js';
import { pairedMetric, type PairedMetric } from './shadow-stats.js';

/** One side of a pair: how its run went, as its journal tells it. */
export interface ShadowSide {
  readonly runId: string;
  readonly version: string | null;
  /** `succeeded`, `failed`, ... or `queued`/`running` while it has not finished. */
  readonly status: string;
  readonly output: string | null;
  readonly costUsd: number | null;
  /** From the first claim (or start) to the end, ms; null while running. */
  readonly latencyMs: number | null;
  readonly steps: number;
  /** Every tool call in order: `tool {canonical args}`. */
  readonly toolCalls: readonly string[];
  /** Decisions made during calls: decision id → value (canonical JSON). */
  readonly decisions: Readonly<Record<string, string>>;
  /** The guard's and the gates' policies' verdicts: `tool: policy verdict (rule)`. */
  readonly guardVerdicts: readonly string[];
  /** Calls held for a human (production) or that would have been (the candidate). */
  readonly approvals: readonly string[];
}

/** A production run and its shadow run, compared. */
export interface ShadowPairReport {
  readonly shadowId: string;
  readonly production: ShadowSide;
  readonly candidate: ShadowSide;
  /** Both finished. */
  readonly complete: boolean;
  readonly sameStatus: boolean;
  /** Outputs equal once normalised (case, whitespace, Unicode form, trailing punctuation). */
  readonly outputMatch: boolean;
  readonly trajectory: {
    readonly same: boolean;
    /** Calls (with arguments) only one side made, counted as multisets. */
    readonly onlyProduction: readonly string[];
    readonly onlyCandidate: readonly string[];
  };
  readonly decisions: {
    readonly same: boolean;
    /** Decision ids whose values differ (or that one side never made). */
    readonly differing: readonly string[];
  };
  /** Candidate calls suppressed, and served from production's recording. */
  readonly suppressedCalls: number;
  readonly servedCalls: number;
  /** Candidate side effects that ran: must be 0. */
  readonly executedSideEffects: number;
  readonly costDeltaUsd: number | null;
  readonly latencyDeltaMs: number | null;
  /** The evaluation assertions given to the report, checked on both runs. */
  readonly assertions?:
    | {
        readonly production: readonly AssertionResult[];
        readonly candidate: readonly AssertionResult[];
      }
    | undefined;
}

/** `keel shadow report --json`: every pair, the side-effect proof, and a verdict per metric. */
export interface ShadowReport {
  readonly shadows: readonly ShadowRecord[];
  readonly pairs: readonly ShadowPairReport[];
  /** Side effects the candidates executed, over all pairs (0 unless something is badly wrong). */
  readonly executedSideEffects: number;
  /** Candidate calls journaled as `shadow_suppressed`, over all pairs. */
  readonly suppressedCalls: number;
  readonly metrics: {
    /** Succeeded (1) or not (0); higher is better. */
    readonly success: PairedMetric;
    /** Output equal to production's once normalised (1) or not (0): `same` when all match. */
    readonly outputMatch: PairedMetric;
    /** Same tool calls with the same arguments (1) or not (0). */
    readonly trajectoryMatch: PairedMetric;
    readonly costUsd: PairedMetric;
    readonly latencyMs: PairedMetric;
    readonly toolCalls: PairedMetric;
    /** Calls a human was (or would have been) asked about; fewer is better. */
    readonly approvals: PairedMetric;
    /** Share of the given evaluation assertions each run passes (with `assertions` only). */
    readonly assertionsPassed?: PairedMetric | undefined;
  };
}

/**
 * Compare every pair of a shadow (or of all shadows): per pair the final status, normalised
 * output, tool trajectory, decisions, guard verdicts and approvals, cost and latency; over the
 * complete pairs a paired sign test and bootstrap interval per metric with a verdict.
 *
 * ```ts
 * const report = await shadowReport(store, { shadowId: 'sh_1a2b' });
 * console.log(report.executedSideEffects, report.metrics.success.verdict);
 * ```
 */
export async function shadowReport(
  store: Store,
  {
    shadowId,
    assertions,
    assertionsFor,
    judge,
  }: {
    readonly shadowId?: string | undefined;
    /** Evaluation assertions (`keel/eval`) checked on both runs of every pair. */
    readonly assertions?: readonly EvalAssertion[] | undefined;
    /**
     * The assertions a pair is checked against, by its production run's task and agent (e.g.
     * an evaluation suite's case for that task: what `keel shadow report --suite` does); a
     * pair given none is not checked. Instead of `assertions`.
     */
    readonly assertionsFor?:
      ((task: string, agent: string) => readonly EvalAssertion[] | undefined) | undefined;
    /** The judge an `llm-rubric` assertion asks. */
    readonly judge?: Judge | undefined;
  } = {},
): Promise<ShadowReport> {
  const shadows = (await store.shadows.list()).filter(
    (shadow) => shadowId === undefined || shadow.id === shadowId,
  );
  const pairs = await store.shadows.pairs(shadowId);
  const journals = await store.browse.readJournals(
    pairs.flatMap((pair) => [pair.runId, pair.candidateRunId]),
  );
  const eventsOf = (runId: string): RunEvent[] =>
    (journals.get(runId) ?? []).map((entry) => entry.event);
  const compared = pairs.map((pair) => comparePair(pair, eventsOf, journals));
  const checksFor = (pair: ShadowPairReport): readonly EvalAssertion[] => {
    if (!assertionsFor) return assertions ?? [];
    const started = eventsOf(pair.production.runId)[0];
    return started?.type === 'run_started'
      ? (assertionsFor(started.task, started.agent) ?? [])
      : [];
  };
  const checking = assertionsFor !== undefined || (assertions?.length ?? 0) > 0;
  const reports = !checking
    ? compared
    : await Promise.all(
        compared.map(async (pair) => {
          const checks = checksFor(pair);
          if (checks.length === 0) return pair;
          const checkAll = (runId: string) =>
            Promise.all(
              checks.map((assertion) =>
                checkAssertion(assertion, runView(journals.get(runId) ?? []), { judge }),
              ),
            );
          return {
            ...pair,
            assertions: {
              production: await checkAll(pair.production.runId),
              candidate: await checkAll(pair.candidate.runId),
            },
          };
        }),
      );
  const complete = reports.filter((pair) => pair.complete);
  const both = (
    value: (side: ShadowSide, pair: ShadowPairReport) => number | null,
    better: 'higher' | 'lower',
  ): PairedMetric => {
    const measured = complete.filter(
      (pair) => value(pair.production, pair) !== null && value(pair.candidate, pair) !== null,
    );
    return pairedMetric(
      measured.map((pair) => value(pair.production, pair) ?? 0),
      measured.map((pair) => value(pair.candidate, pair) ?? 0),
      better,
    );
  };
  return {
    shadows,
    pairs: reports,
    executedSideEffects: reports.reduce((sum, pair) => sum + pair.executedSideEffects, 0),
    suppressedCalls: reports.reduce((sum, pair) => sum + pair.suppressedCalls, 0),
    metrics: {
      success: both((side) => (side.status === 'succeeded' ? 1 : 0), 'higher'),
      outputMatch: both(
        (side, pair) => (side === pair.production ? 1 : pair.outputMatch ? 1 : 0),
        'higher',
      ),
      trajectoryMatch: both(
        (side, pair) => (side === pair.production ? 1 : pair.trajectory.same ? 1 : 0),
        'higher',
      ),
      costUsd: both((side) => side.costUsd, 'lower'),
      latencyMs: both((side) => side.latencyMs, 'lower'),
      toolCalls: both((side) => side.toolCalls.length, 'lower'),
      approvals: both((side) => side.approvals.length, 'lower'),
      ...(!checking
        ? {}
        : {
            assertionsPassed: both((side, pair) => {
              const results =
                side === pair.production ? pair.assertions?.production : pair.assertions?.candidate;
              if (!results || results.length === 0) return null;
              return results.filter((result) => result.pass).length / results.length;
            }, 'higher'),
          }),
    },
  };
}

function comparePair(
  pair: ShadowPair,
  eventsOf: (runId: string) => RunEvent[],
  journals: ReadonlyMap<string, readonly { readonly at: number }[]>,
): ShadowPairReport {
  const productionEvents = eventsOf(pair.runId);
  const candidateEvents = eventsOf(pair.candidateRunId);
  const production = sideOf(pair.runId, productionEvents, journals.get(pair.runId) ?? [], false);
  const candidate = sideOf(
    pair.candidateRunId,
    candidateEvents,
    journals.get(pair.candidateRunId) ?? [],
    true,
  );
  const complete = production.latencyMs !== null && candidate.latencyMs !== null;
  const onlyProduction = multisetMinus(production.toolCalls, candidate.toolCalls);
  const onlyCandidate = multisetMinus(candidate.toolCalls, production.toolCalls);
  const decisionIds = [
    ...new Set([...Object.keys(production.decisions), ...Object.keys(candidate.decisions)]),
  ].sort();
  const differing = decisionIds.filter(
    (id) => production.decisions[id] !== candidate.decisions[id],
  );
  return {
    shadowId: pair.shadowId,
    production,
    candidate,
    complete,
    sameStatus: production.status === candidate.status,
    outputMatch:
      production.output !== null &&
      candidate.output !== null &&
      normaliseOutput(production.output) === normaliseOutput(candidate.output),
    trajectory: {
      same: canonicalJson(production.toolCalls) === canonicalJson(candidate.toolCalls),
      onlyProduction,
      onlyCandidate,
    },
    decisions: { same: differing.length === 0, differing },
    suppressedCalls: candidateEvents.filter((event) => event.type === 'shadow_suppressed').length,
    servedCalls: candidateEvents.filter(
      (event) => event.type === 'tool_intercepted' && event.action === 'served',
    ).length,
    executedSideEffects: executedSideEffects(candidateEvents),
    costDeltaUsd:
      production.costUsd === null || candidate.costUsd === null
        ? null
        : candidate.costUsd - production.costUsd,
    latencyDeltaMs:
      production.latencyMs === null || candidate.latencyMs === null
        ? null
        : candidate.latencyMs - production.latencyMs,
  };
}

function sideOf(
  runId: string,
  events: readonly RunEvent[],
  entries: readonly { readonly at: number }[],
  shadow: boolean,
): ShadowSide {
  const state = foldRun(events);
  const decisions: Record<string, string> = {};
  const guardVerdicts: string[] = [];
  const approvals: string[] = [];
  const toolCalls: string[] = [];
  for (const event of events) {
    if (event.type === 'tool_requested')
      toolCalls.push(`${event.toolName} ${canonicalJson(event.input ?? null)}`);
    else if (event.type === 'decision_recorded' && event.entry.type === 'decision_made')
      decisions[event.decisionId] = canonicalJson(event.entry.value ?? null);
    else if (event.type === 'guard_verdict')
      guardVerdicts.push(`${event.toolName}: ${event.policy} ${event.verdict} (${event.rule})`);
    else if (event.type === 'approval_requested' && !shadow) approvals.push(event.toolName);
    else if (event.type === 'would_need_approval') approvals.push(event.toolName);
  }
  const finishedAt = state.finished ? entries.at(-1)?.at : undefined;
  const from = state.firstClaimedAt ?? state.startedAt;
  return {
    runId,
    version: state.version ?? null,
    status: state.finished?.status ?? (events.length === 0 ? 'missing' : 'running'),
    output: state.finished?.output ?? null,
    costUsd: state.finished && state.usage.costKnown ? state.usage.costUsd : null,
    latencyMs: finishedAt === undefined ? null : Math.max(0, finishedAt - from - state.waitedMs),
    steps: state.steps,
    toolCalls,
    decisions,
    guardVerdicts,
    approvals,
  };
}

/**
 * Calls of a shadow run that took effect: a `write`, `irreversible` or `egress` call that was
 * not intercepted and has an outcome (or was started and never answered). Zero, by design.
 */
export function executedSideEffects(events: readonly RunEvent[]): number {
  const effects = new Map<string, string>();
  const intercepted = new Set<string>();
  const executed = new Set<string>();
  for (const event of events) {
    const key = 'callId' in event && 'step' in event ? `${event.step}:${event.callId}` : '';
    if (event.type === 'tool_requested') effects.set(key, event.effect);
    else if (event.type === 'tool_intercepted') {
      intercepted.add(key);
      executed.delete(key);
    } else if (
      (event.type === 'tool_started' ||
        event.type === 'tool_finished' ||
        event.type === 'tool_failed') &&
      !intercepted.has(key) &&
      effects.get(key) !== 'read'
    )
      executed.add(key);
  }
  // A started call is resolved by its interception or its outcome, both journaled after it.
  return executed.size;
}

/** Case, Unicode form, whitespace and trailing punctuation do not make outputs differ. */
export function normaliseOutput(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s.!?]+$/u, '');
}

function multisetMinus(left: readonly string[], right: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const item of right) counts.set(item, (counts.get(item) ?? 0) + 1);
  const rest: string[] = [];
  for (const item of left) {
    const count = counts.get(item) ?? 0;
    if (count > 0) counts.set(item, count - 1);
    else rest.push(item);
  }
  return rest;
}
