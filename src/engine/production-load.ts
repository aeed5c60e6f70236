import { performance } from 'node:perf_hooks';
import { sleep, timerDelay } from '../core/index.js';
import type { ProviderGate } from './provider-limits.js';

/**
 * How long the process must have run no production run before shadow work goes on: back-to-back
 * production runs leave gaps of a millisecond, and shadow work started in one would run beside
 * the next production run.
 */
export const SHADOW_QUIET_MS = 50;

/**
 * The production runs executing in this process, which shadow work here gives way to: a worker
 * claims no shadow run, no pair is queued, and a shadow run already executing waits before each
 * model call, until no production run has executed here for `quietMs`. Candidates use the
 * process's idle time only (under constant production load they wait; a worker with
 * `shadows: 'only'` in another process gives them time of their own).
 *
 * ```ts
 * const leave = load.enter(); // a production run starts executing here
 * try { ... } finally { leave(); }
 * ```
 */
export class ProductionLoad {
  #inFlight = 0;
  #lastEnd = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #waiters = new Set<() => void>();
  /** Someone found the process busy: tell `onIdle` when it is quiet again. */
  #deferred = false;
  /** The process takes no more production runs (its runtime is closing): quiet from now on. */
  #ended = false;
  readonly #onIdle: () => void;
  readonly #quietMs: number;

  constructor(onIdle: () => void, quietMs = SHADOW_QUIET_MS) {
    this.#onIdle = onIdle;
    this.#quietMs = quietMs;
  }

  get #quiet(): boolean {
    if (this.#ended) return true;
    return this.#inFlight === 0 && performance.now() - this.#lastEnd >= this.#quietMs;
  }

  /** Whether shadow work should wait now (a deferred worker is woken when it need not). */
  get busy(): boolean {
    if (this.#quiet) return false;
    this.#deferred = true;
    if (this.#inFlight === 0) this.#watch();
    return true;
  }

  /** A production run starts executing; the function returned says it stopped. */
  enter(): () => void {
    this.#inFlight += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#inFlight -= 1;
      this.#lastEnd = performance.now();
      if (this.#inFlight === 0 && (this.#deferred || this.#waiters.size > 0)) this.#watch();
    };
  }

  /**
   * No production run will execute here again (the runtime is closing): whoever waits for a
   * quiet moment goes now instead of after the quiet time.
   */
  end(): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const wake of this.#waiters) wake();
  }

  /** Once quiet, wake whoever waits. */
  #watch(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastEnd + this.#quietMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#inFlight > 0) return;
      if (!this.#quiet) {
        this.#watch();
        return;
      }
      for (const wake of this.#waiters) wake();
      if (this.#deferred) {
        this.#deferred = false;
        this.#onIdle();
      }
    }, timerDelay(wait));
  }

  /** Resolves once no production run has executed here for the quiet time. */
  async idle(signal?: AbortSignal): Promise<void> {
    while (!this.#quiet) {
      signal?.throwIfAborted();
      if (this.#inFlight === 0) this.#watch();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
      // Another production run may start in the same tick as the wake.
      await sleep(0);
    }
    signal?.throwIfAborted();
  }

  /** A shadow run's provider gate: wait for a quiet moment, then take `inner`'s turn. */
  gate(inner: ProviderGate | undefined): ProviderGate {
    return {
      acquire: async (model, tokens, signal) => {
        await this.idle(signal);
        await inner?.acquire(model, tokens, signal);
      },
      rateLimited: (model, retryAfterMs) => {
        inner?.rateLimited(model, retryAfterMs);
      },
    };
  }
}
