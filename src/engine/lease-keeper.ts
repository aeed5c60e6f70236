import type { Clock } from '../core/index.js';
import type { RunJournalStore } from '../store/index.js';
import type { RunAbort } from './execution.js';

/**
 * The leases of the runs this process executes: one heartbeat renews them all while any runs,
 * and a run whose lease was lost, or that someone asked to cancel, has its execution aborted.
 */
export interface LeaseKeeper {
  /** Runs executing in this process, by id. */
  readonly active: ReadonlyMap<string, AbortController>;
  /** Hold `runId` for `controller`'s execution; returns the release. */
  track(runId: string, controller: AbortController): () => void;
  /** Stop the heartbeat (the process is closing). */
  stop(): void;
}

export function leaseKeeper({
  store,
  clock,
  workerId,
  leaseMs,
}: {
  readonly store: RunJournalStore;
  readonly clock: Clock;
  readonly workerId: string;
  readonly leaseMs: number;
}): LeaseKeeper {
  const active = new Map<string, AbortController>();
  let heartbeat: NodeJS.Timeout | undefined;

  async function renew(): Promise<void> {
    const runIds = [...active.keys()];
    if (runIds.length === 0) return;
    try {
      const renewal = await store.renewLeases({ workerId, runIds, now: clock.now(), leaseMs });
      for (const id of renewal.lost)
        active.get(id)?.abort({ kind: 'lease_lost' } satisfies RunAbort);
      for (const id of renewal.cancelRequested)
        active.get(id)?.abort({ kind: 'cancel', by: 'user' } satisfies RunAbort);
    } catch {
      // A missed heartbeat is retried on the next tick; the lease covers several ticks.
    }
  }

  function stop(): void {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
  }

  return {
    active,
    stop,
    track(runId, controller) {
      // This worker re-claimed a run it was still executing (its heartbeat came too late): the
      // new claim supersedes the old execution, whose writes the store now refuses anyway.
      active.get(runId)?.abort({ kind: 'lease_lost' } satisfies RunAbort);
      active.set(runId, controller);
      if (!heartbeat) {
        heartbeat = setInterval(() => void renew(), Math.max(50, Math.floor(leaseMs / 3)));
        heartbeat.unref();
      }
      return function untrack() {
        if (active.get(runId) === controller) active.delete(runId);
        if (active.size === 0) stop();
      };
    },
  };
}
