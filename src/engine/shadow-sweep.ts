import type { Clock } from '../core/index.js';
import type { Worker } from './worker.js';
import type { ShadowPair, Store } from '../store/index.js';
import { inShadowSample } from './shadow-sampling.js';
import { timerDelay } from '../core/index.js';

/** Unpaired production runs a sweep reads at a time. */
const SWEEP_PAGE = 500;

/**
 * Queue what a process that died left unqueued: a production run's pair is queued after its
 * `run_finished` commits, so a process dying in between leaves a sampled run without its
 * shadow run, and one dying between the pair and its run leaves a pair without a run. This
 * finds both and queues them: the sampled production runs of each active shadow that finished
 * since `since` (default: the shadow's start) with no pair, and the pairs recorded more than
 * `graceMs` ago whose shadow run does not exist. Idempotent and safe beside other workers (a
 * production run has at most one pair per shadow). The ids of the shadow runs queued.
 *
 * ```ts
 * await sweepShadows(store, clock, shadowRuns); // on a worker's start, then now and then
 * ```
 */
export async function sweepShadows(
  store: Store,
  clock: Clock,
  shadows: {
    consider(runId: string): Promise<string[]>;
    repair(pair: ShadowPair): Promise<boolean>;
  },
  { since, graceMs = 60_000 }: { readonly since?: number; readonly graceMs?: number } = {},
): Promise<string[]> {
  const queued: string[] = [];
  for (const shadow of await store.shadows.list({ active: true })) {
    let finishedSince = Math.max(shadow.startedAt, since ?? 0);
    const seen = new Set<string>();
    for (;;) {
      const page = await store.shadows.unpaired({
        shadowId: shadow.id,
        agent: shadow.agent,
        finishedSince,
        limit: SWEEP_PAGE,
      });
      const fresh = page.filter((run) => !seen.has(run.id));
      for (const run of fresh) {
        seen.add(run.id);
        if (inShadowSample(run.id, shadow.share)) queued.push(...(await shadows.consider(run.id)));
      }
      if (page.length < SWEEP_PAGE || fresh.length === 0) break;
      // Runs left unpaired (outside the sample, or skipped) come back: read on from the last.
      finishedSince = page.at(-1)?.finishedAt ?? finishedSince;
    }
  }
  for (const pair of await store.shadows.pairsWithoutRun(clock.now() - graceMs)) {
    if (await shadows.repair(pair)) queued.push(pair.candidateRunId);
  }
  return queued;
}

/**
 * A worker's sweeps: one as it starts (from each shadow's start: whatever a dead process left),
 * then every `sweepMs` over the runs finished since a little before the last sweep.
 */
export function attendShadows(
  worker: Worker,
  {
    sweep,
    clock,
    sweepMs = 60_000,
    onError,
  }: {
    readonly sweep: (options: { since?: number }) => Promise<unknown>;
    readonly clock: Clock;
    readonly sweepMs?: number | undefined;
    readonly onError?: ((runId: string, error: unknown) => void) | undefined;
  },
): void {
  let since: number | undefined;
  const once = (): void => {
    const startedAt = clock.now();
    sweep(since === undefined ? {} : { since }).then(
      () => {
        since = startedAt - sweepMs;
      },
      (error: unknown) => onError?.('', error),
    );
  };
  once();
  const timer = setInterval(once, timerDelay(sweepMs));
  timer.unref();
  void worker.done.finally(() => {
    clearInterval(timer);
  });
}
