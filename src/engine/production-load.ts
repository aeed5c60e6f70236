import { sleep } from '../core/index.js';
import type { ProviderGate } from './provider-limits.js';

/**
 * The production runs executing in this process, which shadow runs here give way to: a worker
 * claims no shadow run while one executes, and a shadow run already executing waits before
 * each model call until none does. Candidates use the process's idle moments only.
 *
 * ```ts
 * const leave = load.enter(); // a production run starts executing here
 * try { ... } finally { leave(); }
 * ```
 */
export class ProductionLoad {
  #inFlight = 0;
  #waiters = new Set<() => void>();
  /** Someone found the process busy: tell `onIdle` when it no longer is. */
  #deferred = false;
  readonly #onIdle: () => void;

  constructor(onIdle: () => void) {
    this.#onIdle = onIdle;
  }

  /** Whether production runs execute here now (a deferred worker is woken when none do). */
  get busy(): boolean {
    if (this.#inFlight === 0) return false;
    this.#deferred = true;
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
      if (this.#inFlight > 0) return;
      for (const wake of this.#waiters) wake();
      if (this.#deferred) {
        this.#deferred = false;
        this.#onIdle();
      }
    };
  }

  /** Resolves once no production run executes here (at once if none does). */
  async idle(signal: AbortSignal): Promise<void> {
    while (this.#inFlight > 0) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
      // Another production run may start in the same tick as the last one ends.
      await sleep(0);
    }
  }

  /** A shadow run's provider gate: wait for an idle moment, then take `inner`'s turn. */
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
