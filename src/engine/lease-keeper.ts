import { timerDelay, type Clock } from '../core/index.js';
import type { RunJournalStore } from '../store/index.js';
import type { RunAbort } from './execution.js';

/**
 * The leases of the runs this process executes: one heartbeat renews them all while any runs,
 * and a run whose lease was lost, or that someone asked to cancel, has its execution aborted.
 */
export interface LeaseKeeper {
  /** Runs executing in this process, by id. */
  readonly active: ReadonlyMap<string, AbortController>;
  /**
   * Hold `runId` for `controller`'s execution; returns the release. With `created`, the run's
   * row is still being written: it is renewed only once that commit is durable (a renewal
   * before would find no row and take the run for lost), though it is active at once.
   */
  track(runId: string, controller: AbortController, created?: Promise<void>): () => void;
  /** The creation of a run executing here whose row is still being written, if any. */
  creation(runId: string): Promise<void> | undefined;
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
  /** Active runs whose row is not yet durable (not renewed), with the execution that waits. */
  const creating = new Map<string, { controller: AbortController; created: Promise<void> }>();
  let heartbeat: NodeJS.Timeout | undefined;

  async function renew(): Promise<void> {
    const runIds = [...active.keys()].filter((runId) => !creating.has(runId));
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
    creation(runId) {
      return creating.get(runId)?.created;
    },
    track(runId, controller, created) {
      // This worker re-claimed a run it was still executing (its heartbeat came too late): the
      // new claim supersedes the old execution, whose writes the store now refuses anyway.
      active.get(runId)?.abort({ kind: 'lease_lost' } satisfies RunAbort);
      active.set(runId, controller);
      if (created) {
        creating.set(runId, { controller, created });
        // A creation that failed stays unrenewed: its run ends on the failure.
        created.then(
          () => {
            if (creating.get(runId)?.controller === controller) creating.delete(runId);
          },
          () => undefined,
        );
      } else creating.delete(runId);
      if (!heartbeat) {
        heartbeat = setInterval(
          () => void renew(),
          timerDelay(Math.max(50, Math.floor(leaseMs / 3))),
        );
        heartbeat.unref();
      }
      return function untrack() {
        if (active.get(runId) === controller) active.delete(runId);
        if (creating.get(runId)?.controller === controller) creating.delete(runId);
        if (active.size === 0) stop();
      };
    },
  };
}
