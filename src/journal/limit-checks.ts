import type { LimitName, RunLimits } from './limits.js';
import { waitedMs, type RunState } from './run-state.js';

/*
 * Every limit check of a run, in one place. The engine checks before a step (timeout,
 * iterations, no progress), before the model call with the estimate (tokens, cost) and after
 * it with the reported usage (tokens, cost); a router hands on what is left.
 */

/** A limit a run reached: which, how much it used, and the maximum. */
export interface LimitReached {
  readonly limit: LimitName;
  readonly used: number;
  readonly max: number;
}

/**
 * The run's own wall-clock time at `now`: from its first claim (time queued does not count;
 * older journals, which do not date claims, count from the start), time parked on approvals
 * excluded.
 */
export function elapsedMs(state: RunState, now: number): number {
  return Math.max(0, now - (state.firstClaimedAt ?? state.startedAt) - waitedMs(state, now));
}

/**
 * How long the run waited in the queue before its first claim, when that is over its
 * `maxQueueMs`; `undefined` when it has no such bound, was not claimed yet, or was on time.
 */
export function queueTimeReached(state: RunState, limits: RunLimits): LimitReached | undefined {
  if (limits.maxQueueMs === undefined || state.firstClaimedAt === undefined) return undefined;
  const queued = state.firstClaimedAt - state.startedAt;
  return queued > limits.maxQueueMs
    ? { limit: 'queue_time', used: queued, max: limits.maxQueueMs }
    : undefined;
}

/** Milliseconds until the run's timeout at `now` (never negative). */
export function remainingTimeMs(state: RunState, limits: RunLimits, now: number): number {
  return Math.max(0, limits.timeoutMs - elapsedMs(state, now));
}

/** Before a step: the timeout, then iterations, then steps without progress. */
export function limitBeforeStep(
  state: RunState,
  limits: RunLimits,
  now: number,
): LimitReached | undefined {
  const elapsed = elapsedMs(state, now);
  if (elapsed >= limits.timeoutMs)
    return { limit: 'timeout', used: elapsed, max: limits.timeoutMs };
  if (state.steps >= limits.maxIterations)
    return { limit: 'iterations', used: state.steps, max: limits.maxIterations };
  if (state.stepsWithoutProgress >= limits.maxStepsWithoutProgress)
    return {
      limit: 'no_progress',
      used: state.stepsWithoutProgress,
      max: limits.maxStepsWithoutProgress,
    };
  return undefined;
}

/**
 * Tokens, then cost, against the run's budget: with estimates before a model call, with the
 * reported usage after it. Cost counts priced calls only (`null`: nothing priced to add): what
 * is known to be spent is a lower bound of what was, so a run over its cost limit on priced
 * calls alone is over it whatever the rest cost.
 */
export function budgetReached(
  spent: { readonly tokens: number; readonly costUsd: number | null },
  limits: RunLimits,
): LimitReached | undefined {
  if (spent.tokens > limits.maxTokens)
    return { limit: 'tokens', used: spent.tokens, max: limits.maxTokens };
  if (spent.costUsd !== null && spent.costUsd > limits.maxCostUsd)
    return { limit: 'cost', used: spent.costUsd, max: limits.maxCostUsd };
  return undefined;
}

/** What is left of each limit at `now` (a routed run inherits it from its parent). */
export function remainingLimits(
  state: RunState,
  limits: RunLimits,
  now: number,
): Pick<RunLimits, 'maxIterations' | 'maxTokens' | 'maxCostUsd' | 'timeoutMs'> {
  return {
    maxIterations: limits.maxIterations - state.steps,
    maxTokens: limits.maxTokens - state.usage.inputTokens - state.usage.outputTokens,
    maxCostUsd: limits.maxCostUsd - state.usage.costUsd,
    timeoutMs: limits.timeoutMs - elapsedMs(state, now),
  };
}
