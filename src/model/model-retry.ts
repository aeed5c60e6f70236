import { ModelCallError } from './model-adapter.js';

/**
 * How failed model calls are retried, by the engine for a run's steps and by `decide()`.
 * Adapters never retry on their own.
 */
export interface ModelRetryOptions {
  /** Total attempts per step, including the first. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_MODEL_RETRY: ModelRetryOptions = Object.freeze({
  maxAttempts: 4,
  initialDelayMs: 250,
  maxDelayMs: 30_000,
});

/**
 * Exponential backoff with full jitter, never shorter than the provider's retry-after: a
 * retry-after above `maxDelayMs` is still honoured (retrying earlier only earns another 429),
 * and the caller's own deadline bounds the wait.
 *
 * ```ts
 * await sleep(modelRetryDelay(DEFAULT_MODEL_RETRY, attempt, failure.retryAfterMs), { signal });
 * ```
 */
export function modelRetryDelay(
  options: ModelRetryOptions,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** (attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * A failed model call as the retry policy reads it: a `ModelCallError` as thrown (its
 * `retryable` says whether another attempt may help), anything else a `server_error`.
 *
 * ```ts
 * const failure = modelCallFailure(error);
 * if (failure.retryable) await sleep(modelRetryDelay(policy, attempt, failure.retryAfterMs));
 * ```
 */
export function modelCallFailure(error: unknown): ModelCallError {
  return ModelCallError.isInstance(error)
    ? error
    : new ModelCallError('server_error', error instanceof Error ? error.message : String(error), {
        cause: error,
      });
}
