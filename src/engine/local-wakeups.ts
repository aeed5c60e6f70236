import type { Worker } from './worker.js';

/**
 * Who in this process waits for a run to become ready again: its workers, and callers of
 * `run` whose run is parked on an approval. A decision made here wakes them at once; decisions
 * made elsewhere are found by the next poll (or heard through the store, on PostgreSQL).
 */
export interface LocalWakeups {
  readonly workers: Set<Worker>;
  /** Wake every local worker and every parked caller. */
  notify(): void;
  /** Until a decision is made here (or a short poll, for decisions made elsewhere). */
  waitForDecision(signal: AbortSignal | undefined): Promise<void>;
}

export function localWakeups(): LocalWakeups {
  const workers = new Set<Worker>();
  const decisionWaiters = new Set<() => void>();
  return {
    workers,
    notify() {
      for (const worker of workers) worker.wake();
      for (const wake of decisionWaiters) wake();
    },
    waitForDecision(signal) {
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          decisionWaiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 250);
        decisionWaiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
  };
}
