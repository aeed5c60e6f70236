/** How the engine retries failed model calls. Adapters never retry on their own. */
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
 * and the run's own timeout bounds the wait.
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
