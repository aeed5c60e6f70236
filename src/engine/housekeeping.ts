import { KeelError, timerDelay, type Clock } from '../core/index.js';
import type { AuditCheckpoint, Store } from '../store/index.js';
import { checkRetention, pruneStore, type RetentionOptions } from './retention.js';

/** Periodic signed checkpoints of the audit chain's head (see `AuditLog.checkpoint`). */
export interface RuntimeAuditOptions {
  /** Record a checkpoint this often, in milliseconds (unset: never from the runtime). */
  readonly checkpointEveryMs?: number | undefined;
  /**
   * Each checkpoint once stored: ship it somewhere the store's writers cannot reach (a file on
   * another host, a webhook, an object store with retention lock). Errors are swallowed.
   */
  readonly onCheckpoint?: ((checkpoint: AuditCheckpoint) => void | Promise<void>) | undefined;
}

/** How a periodic job is scheduled: `setInterval` (unref'd) unless a test drives it. */
export type Every = (ms: number, job: () => void) => () => void;

const intervals: Every = (ms, job) => {
  const timer = setInterval(job, timerDelay(ms));
  timer.unref();
  return () => {
    clearInterval(timer);
  };
};

/**
 * Start the runtime's periodic upkeep of the store; returns a function that stops it and
 * waits for a job in flight. A job never overlaps itself and never throws.
 */
export function startHousekeeping(options: {
  readonly store: Store;
  readonly clock: Clock;
  readonly audit?: RuntimeAuditOptions | undefined;
  readonly retention?: RetentionOptions | undefined;
  readonly every?: Every | undefined;
}): () => Promise<void> {
  const { store, clock, audit, every = intervals } = options;
  const retention = options.retention ? checkRetention(options.retention) : undefined;
  const stops: (() => void)[] = [];
  let inFlight: Promise<void> | undefined;
  const once = (job: () => Promise<void>) => () => {
    inFlight ??= job()
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined;
      });
  };
  const checkpointEveryMs = audit?.checkpointEveryMs;
  if (checkpointEveryMs !== undefined) {
    if (!Number.isSafeInteger(checkpointEveryMs) || checkpointEveryMs < 1_000)
      throw new KeelError(
        'invalid_config',
        'createRuntime: "audit.checkpointEveryMs" must be a whole number of milliseconds >= 1000',
      );
    stops.push(
      every(
        checkpointEveryMs,
        once(async () => {
          const checkpoint = await store.audit.checkpoint({ at: clock.now() });
          await audit?.onCheckpoint?.(checkpoint);
        }),
      ),
    );
  }
  if (retention) {
    const controller = new AbortController();
    stops.push(() => {
      controller.abort();
    });
    stops.push(
      every(
        retention.everyMs,
        once(async () => {
          await pruneStore(store, {
            olderThanMs: retention.olderThanMs,
            statuses: retention.statuses,
            batchSize: retention.batchSize,
            now: clock.now(),
            signal: controller.signal,
          });
        }),
      ),
    );
  }
  return async function stopHousekeeping() {
    for (const stop of stops) stop();
    await inFlight;
  };
}
