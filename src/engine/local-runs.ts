import { KeelError, type Clock } from '../core/index.js';
import { foldRun, type RunEvent } from '../journal/index.js';
import {
  STORE_SCHEMA_VERSION,
  type RunRecord,
  type Store,
  type StoredEvent,
} from '../store/index.js';
import type { Agent } from '../agent/index.js';
import type { ExecuteRunContext } from './execution.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { LocalWakeups } from './local-wakeups.js';
import type { ProductionLoad } from './production-load.js';
import type { ShadowRuns } from './shadow-runs.js';
import { executeRun, type RunAbort } from './run-executor.js';
import { resultOf, type RunResult } from './run-result.js';
import type { StartRunOptions } from './runtime-options.js';

/** What every run this process executes shares, and how it finds a run's agent. */
export interface LocalRunsContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly workerId: string;
  readonly leaseMs: number;
  readonly leases: LeaseKeeper;
  readonly wakeups: LocalWakeups;
  readonly executeWith: Omit<ExecuteRunContext, 'runId' | 'resolveAgent' | 'controller'>;
  /** The agent a run executes with, for its model override (throws for an unknown agent). */
  readonly agentFor: (name: string, modelSpec: string | undefined) => Agent;
  /** Shadow runs: their candidate agent, and the interceptor that keeps them off the world. */
  readonly shadows?: Pick<ShadowRuns, 'resolve' | 'interceptor'> | undefined;
  /** Production runs executing here, which shadow runs here give way to. */
  readonly production?: ProductionLoad | undefined;
}

/**
 * `released`: handed back for another worker; `lost`: another worker holds it now (or it is
 * parked), and will finish it.
 */
export type LocalOutcome = RunResult | 'released' | 'lost';

/**
 * The runs this process executes itself: created here (`run`, `fork`), resumed here after a
 * decision, or claimed by its worker. `settle` waits for all of them to let go.
 */
export class LocalRuns {
  readonly #context: LocalRunsContext;
  readonly #executions = new Set<Promise<unknown>>();

  constructor(context: LocalRunsContext) {
    this.#context = context;
  }

  /**
   * Create a run already claimed by this process (`events` after its `run_started` are reused
   * as they are) and execute it here; a signal aborting cancels it. With `commitAhead`, the run
   * starts while its creation commits: the first model call goes out as the disk syncs, and
   * nothing else the run does (its tools, its next write, its answer, the text its followers
   * see) comes before the creation is durable. A creation that fails fails the run with the
   * store's error at once (the call is cut off). Only for an id Keel made: another run cannot
   * hold it.
   */
  async runHere(
    runId: string,
    [started, ...reused]: readonly RunEvent[],
    signal: AbortSignal | undefined,
    { commitAhead = false }: { readonly commitAhead?: boolean } = {},
  ): Promise<LocalOutcome> {
    if (started?.type !== 'run_started')
      throw new KeelError('internal', 'a run starts with run_started');
    const { store, clock, workerId, leaseMs } = this.#context;
    const now = clock.now();
    const claimed: RunEvent = { type: 'run_claimed', workerId, claim: 1, at: now };
    const journal = [started, claimed, ...reused].map((event, index) => ({
      seq: index + 1,
      at: now,
      event,
    }));
    const creation = store.createRun({
      id: runId,
      agent: started.agent,
      task: started.task,
      createdAt: now,
      events: journal,
      claimBy: { workerId, leaseUntil: now + leaseMs },
    });
    return this.execute({
      record: commitAhead
        ? { id: runId, agent: started.agent, shadowOf: started.shadowOf ?? null }
        : await creation,
      claim: undefined,
      signal,
      signalMeans: 'cancel',
      journal: journal.map((entry) => ({ ...entry, runId, schemaVersion: STORE_SCHEMA_VERSION })),
      created: commitAhead ? creation.then(() => undefined) : undefined,
    });
  }

  /**
   * A run this caller started is parked on an approval: wait for the decision and resume it
   * here, unless a worker claims it first. `undefined` when another worker holds it now (the
   * caller waits for that worker to finish it).
   */
  async resumeAfterDecision(
    runId: string,
    signal: AbortSignal | undefined,
    onWaiting?: StartRunOptions['onWaiting'],
  ): Promise<RunResult | undefined> {
    const { store, clock, workerId, leaseMs, wakeups } = this.#context;
    const reported = new Set<string>();
    for (;;) {
      const current = await store.getRun(runId);
      if (current?.status !== 'waiting' && current?.status !== 'queued') return undefined;
      if (current.status === 'waiting') {
        signal?.throwIfAborted();
        if (onWaiting) {
          const pending = await store.approvals.list({ runId, states: ['pending'] });
          const fresh = pending.filter((approval) => !reported.has(approval.id));
          for (const approval of fresh) reported.add(approval.id);
          if (fresh.length > 0) onWaiting(fresh);
        }
        await wakeups.waitForDecision(signal);
        continue;
      }
      const claimed = await store.claimRun({ runId, workerId, now: clock.now(), leaseMs });
      if (!claimed) return undefined;
      const resumed = await this.execute({
        record: claimed,
        claim: { number: claimed.claims, cancelRequested: claimed.cancelRequested },
        signal,
        signalMeans: 'cancel',
      });
      if (typeof resumed !== 'string') return resumed;
      if (resumed === 'released') return undefined;
    }
  }

  /**
   * A run the store ended at the claim (its watchdog's worker died too): observers hear of its
   * end here (an `in_doubt` alert), as they would from the worker that ended it.
   */
  async endedAtClaim(record: RunRecord): Promise<RunResult | undefined> {
    const events = await this.#context.store.readEvents(record.id);
    const last = events.at(-1)?.event;
    if (last?.type === 'run_finished') this.#context.executeWith.onEvent?.(record.id, last);
    return resultOf(record.id, foldRun(events.map((entry) => entry.event)));
  }

  /**
   * Execute a run this process holds. `signal` aborting means cancel (a caller giving up on
   * its run) or release (a worker shutting down: the run is handed back for another worker).
   */
  async execute({
    record,
    claim,
    signal,
    signalMeans,
    journal,
    created,
  }: {
    record: Pick<RunRecord, 'id' | 'agent' | 'shadowOf'>;
    claim: { number: number; cancelRequested: boolean } | undefined;
    signal: AbortSignal | undefined;
    signalMeans: 'cancel' | 'release';
    journal?: readonly StoredEvent[] | undefined;
    /** The run's creation while it commits (see `runHere`). */
    created?: Promise<void> | undefined;
  }): Promise<LocalOutcome> {
    const { store, workerId, leases, executeWith, agentFor, shadows, production } = this.#context;
    const shadow = record.shadowOf !== null && shadows !== undefined;
    const leave = shadow ? undefined : production?.enter();
    const controller = new AbortController();
    const untrack = leases.track(record.id, controller, created);
    // A creation that failed ends the run at once with the store's error: the model call
    // going out meanwhile is cut off, not paid for to the end.
    created?.catch((error: unknown) => {
      if (!controller.signal.aborted)
        controller.abort({ kind: 'not_created', error } satisfies RunAbort);
    });
    const onExternalAbort = (): void => {
      controller.abort(
        (signalMeans === 'cancel'
          ? { kind: 'cancel', by: 'user' }
          : { kind: 'release' }) satisfies RunAbort,
      );
    };
    if (signal?.aborted) onExternalAbort();
    else signal?.addEventListener('abort', onExternalAbort, { once: true });
    const work = executeRun({
      ...executeWith,
      runId: record.id,
      resolveAgent: (folded) =>
        shadows?.resolve(folded) ?? agentFor(record.agent, folded.modelSpec),
      ...(shadow
        ? {
            // The runtime's own interceptor when it has one (a replay's); the shadow's guard
            // keeps every call but a `read` from running either way.
            interceptToolCall: executeWith.interceptToolCall ?? shadows.interceptor(record.id),
            // A candidate's model calls wait while production runs execute here.
            ...(production ? { providerGate: production.gate(executeWith.providerGate) } : {}),
          }
        : {}),
      controller,
      claim,
      journal,
      created,
    }).then((state) => (state ? resultOf(record.id, state) : undefined));
    this.#executions.add(work);
    try {
      const result = await work;
      if (result) return result;
      const reason = controller.signal.reason as RunAbort | undefined;
      if (reason?.kind === 'release') {
        await store.releaseLease(record.id, workerId).catch(() => undefined);
        return 'released';
      }
      return 'lost';
    } finally {
      leave?.();
      this.#executions.delete(work);
      signal?.removeEventListener('abort', onExternalAbort);
      untrack();
    }
  }

  /** Resolves when every execution in this process has let go of its run. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#executions]);
  }
}
