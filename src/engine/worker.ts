import {
  KeelError,
  allFieldsOf,
  fieldFault,
  refuseUnknownFields,
  timerDelay,
  type Clock,
} from '../core/index.js';
import type { Approvals } from '../approval/index.js';
import type { RunJournalStore, RunRecord, ShadowClaims, Store } from '../store/index.js';
import type { RunResult } from './run-result.js';

/** A worker's concurrency, poll interval, and callbacks for each run's end and for errors. */
export interface WorkerOptions {
  /** Runs executed at once by this worker. */
  readonly concurrency?: number;
  /** How often to look for claimable runs when idle. */
  readonly pollMs?: number;
  /** Called with each run's result (or `undefined` when the run was lost or released). */
  readonly onRunEnd?: ((runId: string, result: RunResult | undefined) => void) | undefined;
  /** Called when executing a run threw (store down, bug); the run is resumed after its lease. */
  readonly onError?: ((runId: string, error: unknown) => void) | undefined;
  /**
   * Called once when the store stops answering claims (`down`, with the error) and once when
   * it answers again (`up`, with the outage's length). Meanwhile claims back off up to 5 s.
   */
  readonly onStoreOutage?: ((outage: StoreOutage) => void) | undefined;
  /**
   * Shadow runs: `also` (default) claims them only when no production run is waiting, and
   * not while a production run executes in this process; `never` leaves them to other workers
   * (a production worker); `only` claims nothing else (a worker kept for candidates, so they
   * never share a process with production runs).
   */
  readonly shadows?: ShadowClaims | undefined;
}

/** A worker's store became unreachable, or reachable again after `downMs`. */
export type StoreOutage =
  | { readonly state: 'down'; readonly error: unknown }
  | { readonly state: 'up'; readonly downMs: number };

const MAX_OUTAGE_BACKOFF_MS = 5_000;

/** A worker claiming and executing queued runs. */
export interface Worker {
  readonly workerId: string;
  /** Runs executing right now. */
  readonly inFlight: number;
  /** Look for work now instead of at the next poll. */
  wake(): void;
  /** Stop claiming; wait for in-flight runs to end (or abort them with `abortInFlight`). */
  stop(options?: { abortInFlight?: boolean }): Promise<void>;
  /** Settles when the worker has stopped. */
  readonly done: Promise<void>;
}

interface StartWorkerOptions extends WorkerOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly agents: readonly string[];
  readonly maxClaims?: number | undefined;
  readonly maxConcurrentRuns?: Readonly<Record<string, number>> | undefined;
  readonly execute: (record: RunRecord, signal: AbortSignal) => Promise<RunResult | undefined>;
  /** True while shadow runs should wait (production runs execute in this process). */
  readonly deferShadows?: (() => boolean) | undefined;
}

/** The fields of `WorkerOptions`: any other is refused, as a misspelt option. */
const WORKER_FIELDS = allFieldsOf<WorkerOptions>()([
  'concurrency',
  'pollMs',
  'onRunEnd',
  'onError',
  'onStoreOutage',
  'shadows',
]);

/** `startWorker`'s own options, refused naming one that is not an option (`polMs`). */
export function checkWorkerOptions(options: WorkerOptions): void {
  refuseUnknownFields(options, WORKER_FIELDS, fieldFault('invalid_config', 'startWorker'));
}

/**
 * Claim queued (or abandoned) runs and execute them, up to `concurrency` at once, until
 * stopped. Claims are leases: a worker that dies stops heartbeating and its runs become
 * claimable by any other worker once the lease expires.
 */
export function startWorker(options: StartWorkerOptions): Worker {
  const {
    store,
    clock,
    workerId,
    leaseMs,
    agents,
    execute,
    maxClaims,
    maxConcurrentRuns,
    concurrency = 32,
    pollMs = 200,
    shadows = 'also',
    deferShadows,
  } = options;
  if (!['also', 'never', 'only'].includes(shadows))
    throw new KeelError(
      'invalid_input',
      `startWorker: "shadows" must be 'also', 'never' or 'only' (got ${JSON.stringify(shadows)})`,
    );
  const running = new Map<string, Promise<void>>();
  // One controller per run, not one shared signal: a shared one would carry a listener per
  // run in flight (Node warns past 10).
  const stops = new Set<AbortController>();
  let aborting = false;
  let stopping = false;
  let wakeUp: (() => void) | undefined;
  /** A wake that arrived while the worker was busy claiming: it must not be lost. */
  let wakeRequested = false;
  /** Since when claims fail (the store is down), and the wait before the next try. */
  let downSince: number | undefined;
  let backoffMs = pollMs;

  async function fill(): Promise<void> {
    while (!stopping && running.size < concurrency) {
      let record: RunRecord | undefined;
      try {
        record = await store.claimNext({
          workerId,
          now: clock.now(),
          leaseMs,
          agents,
          maxClaims,
          maxConcurrentRuns,
          shadows: shadows === 'also' && deferShadows?.() === true ? 'never' : shadows,
        });
      } catch (error) {
        if (downSince === undefined) {
          downSince = Date.now();
          backoffMs = pollMs;
          options.onStoreOutage?.({ state: 'down', error });
          if (!options.onStoreOutage) options.onError?.('', error);
        } else backoffMs = Math.min(backoffMs * 2, MAX_OUTAGE_BACKOFF_MS);
        return;
      }
      if (downSince !== undefined) {
        options.onStoreOutage?.({ state: 'up', downMs: Date.now() - downSince });
        downSince = undefined;
      }
      if (!record) return;
      const runId = record.id;
      const stop = new AbortController();
      if (aborting) stop.abort();
      stops.add(stop);
      const work = execute(record, stop.signal)
        .then((result) => options.onRunEnd?.(runId, result))
        .catch((error: unknown) => options.onError?.(runId, error))
        .finally(() => {
          stops.delete(stop);
          if (running.get(runId) === work) running.delete(runId);
          wakeRequested = true;
          wakeUp?.();
        });
      running.set(runId, work);
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      wakeRequested = false;
      await fill();
      if (wakeRequested || stopping) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timerDelay(downSince === undefined ? pollMs : backoffMs));
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
    await Promise.allSettled(running.values());
  }

  const done = loop();
  return {
    workerId,
    get inFlight() {
      return running.size;
    },
    wake: () => {
      wakeRequested = true;
      wakeUp?.();
    },
    async stop({ abortInFlight = false } = {}) {
      stopping = true;
      if (abortInFlight) {
        aborting = true;
        for (const stop of stops) stop.abort();
      }
      wakeUp?.();
      await done;
    },
    done,
  };
}

/**
 * What a runtime's worker does for approvals while it runs: applies due expiries (a run parked
 * on an approval nobody decided is denied, escalated or ended on time even if no one looks at
 * it), re-notifies, and wakes at once for decisions made in other processes where the store can
 * say so (PostgreSQL LISTEN/NOTIFY); elsewhere the next poll finds the run.
 */
export function attendApprovals(
  worker: Worker,
  {
    store,
    approvals,
    sweepMs,
    onError,
  }: {
    readonly store: RunJournalStore;
    readonly approvals: Approvals;
    readonly sweepMs: number;
    readonly onError?: ((runId: string, error: unknown) => void) | undefined;
  },
): void {
  const sweep = setInterval(() => {
    approvals.expireDue().catch((error: unknown) => onError?.('', error));
    approvals.renotify().catch((error: unknown) => onError?.('', error));
  }, timerDelay(sweepMs));
  sweep.unref();
  const subscription = store
    .onRunReady(() => {
      worker.wake();
    })
    .then((unsubscribe) => {
      // A decision committed before the subscription was heard by no one: look now.
      worker.wake();
      return unsubscribe;
    })
    .catch((error: unknown) => {
      onError?.('', error);
      return () => Promise.resolve();
    });
  void worker.done.finally(async () => {
    clearInterval(sweep);
    await (
      await subscription
    )();
  });
}
