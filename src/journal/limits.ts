import { KeelError, MAX_TIMER_MS } from '../core/index.js';

/** The names a `stopped` run can give. */
export const LIMIT_NAMES = [
  'iterations',
  'tokens',
  'cost',
  'timeout',
  'identical_calls',
  'no_progress',
  'queue_time',
] as const;
/** One limit a run can stop on. */
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Every run is bounded by all of these. */
export interface RunLimits {
  /** Model calls (steps). */
  readonly maxIterations: number;
  /** Input + output tokens, all steps. */
  readonly maxTokens: number;
  /** USD, all steps; enforced only where the model's price is known. */
  readonly maxCostUsd: number;
  /**
   * The run's own wall-clock time: from its first claim by a worker (time queued before it
   * does not count), time parked on approvals excluded.
   */
  readonly timeoutMs: number;
  /**
   * Longest wait in the queue before a first claim (unset: no bound). A run claimed later
   * ends `stopped` with limit `queue_time` without a model call.
   */
  readonly maxQueueMs?: number | undefined;
  /** Calls of the same tool with the same canonical arguments. */
  readonly maxIdenticalCalls: number;
  /** Consecutive steps that produced no new tool result content. */
  readonly maxStepsWithoutProgress: number;
}

/** The limits every run has unless its agent or the run sets others. */
export const DEFAULT_LIMITS: RunLimits = Object.freeze({
  maxIterations: 25,
  maxTokens: 200_000,
  maxCostUsd: 1,
  timeoutMs: 5 * 60_000,
  maxIdenticalCalls: 3,
  maxStepsWithoutProgress: 4,
});

/** The limits that count something, and what: each must be a whole number. */
const COUNTED: ReadonlyMap<string, string> = new Map([
  ['maxIterations', 'model calls'],
  ['maxTokens', 'tokens'],
  ['maxIdenticalCalls', 'calls'],
  ['maxStepsWithoutProgress', 'steps'],
]);

/** Merge overrides into the defaults, naming the field of any bad value. */
export function resolveLimits(where: string, overrides: Partial<RunLimits> = {}): RunLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  if (limits.maxQueueMs === undefined) delete limits.maxQueueMs;
  for (const [field, value] of Object.entries(limits)) {
    if (!(field in DEFAULT_LIMITS) && field !== 'maxQueueMs') {
      throw new KeelError('invalid_definition', `${where}: "limits.${field}" is not a known limit`);
    }
    if (field === 'timeoutMs' && typeof value === 'number' && value > MAX_TIMER_MS) {
      throw new KeelError(
        'invalid_definition',
        `${where}: "limits.timeoutMs" must be at most ${MAX_TIMER_MS} (about 24.8 days)`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new KeelError(
        'invalid_definition',
        `${where}: "limits.${field}" must be a positive number`,
      );
    }
    if (COUNTED.has(field) && !Number.isInteger(value)) {
      throw new KeelError(
        'invalid_definition',
        `${where}: "limits.${field}" must be a whole number (it counts ${COUNTED.get(field) ?? ''})`,
      );
    }
  }
  return Object.freeze(limits);
}
