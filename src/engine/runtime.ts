import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  foldRun,
  resolveLimits,
  type Agent,
  type RunEvent,
  type RunLimits,
  type RunState,
} from '../agent/index.js';
import { createApprovals, type Approvals } from '../approval/index.js';
import { KeelError, TRUSTED_TASK, systemClock, type Clock } from '../core/index.js';
import type { Notifier } from '../notify/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import { createToolPolicies, type ToolPoliciesOptions } from '../tools/index.js';
import {
  alertMonitor,
  type AlertNotifier,
  type AlertRules,
  type RunObserver,
} from '../observe/index.js';
import {
  STORE_SCHEMA_VERSION,
  type ApprovalDecisionEntry,
  type RunRecord,
  type StoredEvent,
  type Store,
} from '../store/index.js';
import { DEFAULT_MODEL_RETRY, type ModelRetryOptions } from './model-retry.js';
import { executeRun, type RunAbort } from './run-executor.js';
import { resultOf, type RunResult } from './run-result.js';
import { startWorker, type Worker, type WorkerOptions } from './worker.js';

export interface RuntimeOptions {
  readonly store: Store;
  readonly agents: readonly Agent[];
  readonly clock?: Clock;
  /** Unique per process; defaults to host:pid:random. */
  readonly workerId?: string;
  /** A run whose worker stops heartbeating is claimable again after this long. */
  readonly leaseMs?: number;
  /** Claims after which a run is ended `failed` (worker_lost) instead of executed again. */
  readonly maxClaims?: number;
  readonly modelRetry?: Partial<ModelRetryOptions>;
  /** Resolves a `--model` string (e.g. `openai:gpt-4o-mini`) to an adapter. */
  readonly resolveModel?: ((spec: string, agent: Agent) => ModelAdapterV1) | undefined;
  /** Observes each committed event. Never awaited; must not throw. */
  readonly onEvent?: ((runId: string, event: RunEvent) => void) | undefined;
  /** Tuning of the tool policies (breaker sync interval, retry jitter source). */
  readonly toolPolicies?: Omit<ToolPoliciesOptions, 'store' | 'clock'> | undefined;
  /** Fed each committed event (trace export, alerts); their work never blocks a run. */
  readonly observers?: readonly RunObserver[] | undefined;
  /**
   * Judge each finished run against its agent's baseline and deliver the alerts it raises
   * (shorthand for an `alertMonitor` observer).
   */
  readonly alerts?:
    | { readonly notifier: AlertNotifier; readonly rules?: Partial<AlertRules> | undefined }
    | undefined;
  /** Human approvals of gated calls: who is told, and how often expiries are applied. */
  readonly approvals?: RuntimeApprovalOptions | undefined;
}

export interface RuntimeApprovalOptions {
  /** Tells the approver group when a gated call waits (webhook, Slack, email...). */
  readonly notifier?: Notifier | undefined;
  /** Base URL of the approval API (`keel serve`), for the decide link in notifications. */
  readonly baseUrl?: string | undefined;
  /** How often a worker applies due expiries. Default 1000 ms. */
  readonly sweepMs?: number | undefined;
  readonly onNotifyError?: ((approvalId: string, error: unknown) => void) | undefined;
  /** Every decision attempt, accepted or refused, once recorded (e.g. for an audit log). */
  readonly onDecision?: ((entry: ApprovalDecisionEntry) => void) | undefined;
}

export interface StartRunOptions {
  readonly runId?: string;
  /** A model string that overrides the agent's model for this run. */
  readonly model?: string | undefined;
  readonly limits?: Partial<RunLimits> | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface ForkOptions {
  /** Steps before this one are reused from the original journal; this one runs live. */
  readonly fromStep: number;
  /** A model string for the fork (default: the original run's). */
  readonly model?: string | undefined;
  readonly runId?: string;
  readonly signal?: AbortSignal | undefined;
}

export interface RunInspection {
  readonly record: RunRecord;
  readonly state: RunState;
  readonly events: readonly StoredEvent[];
}

/**
 * The engine's front door: start runs (queued for any worker, or executed in this process),
 * cancel them, inspect them, and run a worker that claims queued runs.
 *
 * ```ts
 * const runtime = createRuntime({ store, agents: [refunds] });
 * const result = await runtime.run('refunds', 'Refund order A-1');
 * console.log(result.status, result.output);
 * ```
 */
export interface Runtime {
  readonly store: Store;
  readonly workerId: string;
  readonly agents: readonly Agent[];
  /** List, decide and expire approvals; a decision made here wakes this process's workers. */
  readonly approvals: Approvals;
  agent(name: string): Agent | undefined;
  /** Queue a run for a worker. Durable when it resolves. */
  submit(agentName: string, task: string, options?: StartRunOptions): Promise<RunRecord>;
  /** Create a run and execute it here until it ends; resumable elsewhere if this process dies. */
  run(agentName: string, task: string, options?: StartRunOptions): Promise<RunResult>;
  /**
   * Start a new run that reuses `runId`'s journal before step `fromStep` (its model replies and
   * tool results, none executed again) and executes from there in this process. The new run's
   * `run_started` names the original (`forkOf`).
   */
  fork(runId: string, options: ForkOptions): Promise<RunResult>;
  /** Ask a run to stop. A queued run ends at once; a running one within a heartbeat. */
  cancel(runId: string): Promise<RunRecord>;
  inspect(runId: string): Promise<RunInspection>;
  /** Wait for a run to end (polls the store) and return its result. */
  wait(runId: string, options?: { signal?: AbortSignal; pollMs?: number }): Promise<RunResult>;
  startWorker(options?: WorkerOptions): Worker;
  /** Stop heartbeats and release held runs so other workers resume them at once. */
  close(): Promise<void>;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const { store, agents, clock = systemClock, leaseMs = 15_000, maxClaims = 5 } = options;
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const modelRetry = { ...DEFAULT_MODEL_RETRY, ...options.modelRetry };
  const byName = new Map(agents.map((agent) => [agent.name, agent]));
  if (byName.size !== agents.length) {
    throw new KeelError('invalid_config', 'createRuntime: two agents share a name');
  }
  const approvals = createApprovals({
    store,
    clock,
    resolveTool: (agentName, toolName) => byName.get(agentName)?.tool(toolName),
    notifier: options.approvals?.notifier,
    baseUrl: options.approvals?.baseUrl,
    onNotifyError: options.approvals?.onNotifyError,
    onDecision: options.approvals?.onDecision,
    onRunReady: () => {
      notifyLocalWorkers();
    },
  });
  /** Runs executing in this process, by id. */
  const active = new Map<string, AbortController>();
  const toolPolicies = createToolPolicies({ ...options.toolPolicies, store, clock });
  let heartbeat: NodeJS.Timeout | undefined;
  const observers: readonly RunObserver[] = [
    ...(options.observers ?? []),
    ...(options.alerts ? [alertMonitor(options.alerts)] : []),
  ];
  const onEvent =
    observers.length === 0
      ? options.onEvent
      : (runId: string, event: RunEvent): void => {
          options.onEvent?.(runId, event);
          for (const observer of observers) {
            try {
              observer.onEvent(runId, event, store);
            } catch {
              // An observer's fault is its own: the run goes on.
            }
          }
        };

  const requestObservers = observers.filter((observer) => observer.onModelRequest !== undefined);
  const onModelRequest: RunObserver['onModelRequest'] =
    requestObservers.length === 0
      ? undefined
      : (runId, call, request) => {
          for (const observer of requestObservers) {
            try {
              observer.onModelRequest?.(runId, call, request);
            } catch {
              // As for events: an observer's fault is its own.
            }
          }
        };

  function requireAgent(name: string): Agent {
    const agent = byName.get(name);
    if (!agent) {
      const known = [...byName.keys()].join(', ') || 'none';
      throw new KeelError('not_found', `unknown agent "${name}"; known agents: ${known}`);
    }
    return agent;
  }

  function agentFor(name: string, modelSpec: string | undefined): Agent {
    const agent = requireAgent(name);
    if (modelSpec === undefined) return agent;
    if (!options.resolveModel) {
      throw new KeelError(
        'invalid_config',
        `run asks for model "${modelSpec}" but no model resolver is configured`,
      );
    }
    return agent.withModel(options.resolveModel(modelSpec, agent));
  }

  function startEvents(agentName: string, task: string, runOptions: StartRunOptions): RunEvent[] {
    if (typeof task !== 'string' || task.trim() === '') {
      throw new KeelError('invalid_input', 'a run needs a non-empty task');
    }
    const agent = agentFor(agentName, runOptions.model);
    const limits = resolveLimits(`run of "${agentName}"`, {
      ...agent.limits,
      ...runOptions.limits,
    });
    return [
      {
        type: 'run_started',
        agent: agent.name,
        task,
        taskProvenance: TRUSTED_TASK,
        model: { provider: agent.model.provider, modelId: agent.model.modelId },
        modelSpec: runOptions.model,
        limits,
        startedAt: clock.now(),
      },
    ];
  }

  async function renew(): Promise<void> {
    const runIds = [...active.keys()];
    if (runIds.length === 0) return;
    try {
      const renewal = await store.renewLeases({ workerId, runIds, now: clock.now(), leaseMs });
      for (const id of renewal.lost)
        active.get(id)?.abort({ kind: 'lease_lost' } satisfies RunAbort);
      for (const id of renewal.cancelRequested) {
        active.get(id)?.abort({ kind: 'cancel', by: 'user' } satisfies RunAbort);
      }
    } catch {
      // A missed heartbeat is retried on the next tick; the lease covers several ticks.
    }
  }

  function track(runId: string, controller: AbortController): () => void {
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
      if (active.size === 0 && heartbeat) {
        clearInterval(heartbeat);
        heartbeat = undefined;
      }
    };
  }

  /** Executions in this process, so `close` can wait for them to let go. */
  const executions = new Set<Promise<unknown>>();

  /**
   * Execute a run this process holds. `signal` aborting means cancel (a caller giving up on
   * its run) or release (a worker shutting down: the run is handed back for another worker).
   */
  async function execute({
    record,
    claim,
    signal,
    signalMeans,
    journal,
  }: {
    record: RunRecord;
    claim: { number: number; cancelRequested: boolean } | undefined;
    signal: AbortSignal | undefined;
    signalMeans: 'cancel' | 'release';
    journal?: readonly StoredEvent[] | undefined;
  }): Promise<RunResult | 'released' | 'lost'> {
    const controller = new AbortController();
    const untrack = track(record.id, controller);
    const onExternalAbort = (): void => {
      controller.abort(
        (signalMeans === 'cancel'
          ? { kind: 'cancel', by: 'user' }
          : { kind: 'release' }) satisfies RunAbort,
      );
    };
    if (signal?.aborted) onExternalAbort();
    else signal?.addEventListener('abort', onExternalAbort, { once: true });
    const work = (async () => {
      const events = journal ?? (await store.readEvents(record.id));
      const state = await executeRun({
        store,
        clock,
        workerId,
        runId: record.id,
        resolveAgent: (folded) => agentFor(record.agent, folded.modelSpec),
        modelRetry,
        controller,
        maxClaims,
        claim,
        journal: events,
        onEvent,
        onModelRequest,
        toolPolicies,
        approvals,
      });
      return state ? resultOf(record.id, state) : undefined;
    })();
    executions.add(work);
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
      executions.delete(work);
      signal?.removeEventListener('abort', onExternalAbort);
      untrack();
    }
  }

  const runtime: Runtime = {
    store,
    workerId,
    agents,
    approvals,
    agent: (name) => byName.get(name),

    async submit(agentName, task, runOptions = {}) {
      const events = startEvents(agentName, task, runOptions);
      const record = await store.createRun({
        id: runOptions.runId ?? newRunId(),
        agent: agentName,
        task,
        createdAt: clock.now(),
        events: events.map((event, index) => ({ seq: index + 1, at: clock.now(), event })),
      });
      notifyLocalWorkers();
      return record;
    },

    async run(agentName, task, runOptions = {}) {
      const events: RunEvent[] = [
        ...startEvents(agentName, task, runOptions),
        { type: 'run_claimed', workerId, claim: 1 },
      ];
      const now = clock.now();
      const runId = runOptions.runId ?? newRunId();
      const journal = events.map((event, index) => ({ seq: index + 1, at: now, event }));
      const record = await store.createRun({
        id: runId,
        agent: agentName,
        task,
        createdAt: now,
        events: journal,
        claimBy: { workerId, leaseUntil: now + leaseMs },
      });
      const stored = journal.map((entry) => ({
        ...entry,
        runId,
        schemaVersion: STORE_SCHEMA_VERSION,
      }));
      const result = await execute({
        record,
        claim: undefined,
        signal: runOptions.signal,
        signalMeans: 'cancel',
        journal: stored,
      });
      if (result === 'released') {
        throw new KeelError(
          'lease_lost',
          `run ${runId} was released before it finished; a worker will resume it`,
        );
      }
      if (result !== 'lost') return result;
      // Parked on an approval: this caller waits for the decision and resumes the run itself,
      // unless a worker claims it first.
      for (;;) {
        const current = await store.getRun(runId);
        if (current?.status !== 'waiting' && current?.status !== 'queued') break;
        if (current.status === 'waiting') {
          runOptions.signal?.throwIfAborted();
          await waitForDecision(runOptions.signal);
          continue;
        }
        const claimed = await store.approvals.claimRun({
          runId,
          workerId,
          now: clock.now(),
          leaseMs,
        });
        if (!claimed) break;
        const resumed = await execute({
          record: claimed,
          claim: { number: claimed.claims, cancelRequested: claimed.cancelRequested },
          signal: runOptions.signal,
          signalMeans: 'cancel',
        });
        if (typeof resumed !== 'string') return resumed;
        if (resumed === 'released') break;
      }
      // Lost: another worker holds it now and will finish it.
      return runtime.wait(runId);
    },

    async fork(sourceRunId, forkOptions) {
      const source = (await store.readEvents(sourceRunId)).map((entry) => entry.event as RunEvent);
      const started = source.find((event) => event.type === 'run_started');
      if (!started) throw new KeelError('not_found', `no run ${sourceRunId}`);
      const { steps } = foldRun(source);
      const { fromStep } = forkOptions;
      if (!Number.isInteger(fromStep) || fromStep < 0 || fromStep > steps) {
        throw new KeelError(
          'invalid_input',
          `fork of ${sourceRunId}: fromStep must be an integer from 0 to ${steps} (its steps)`,
        );
      }
      const modelSpec = forkOptions.model ?? started.modelSpec;
      agentFor(started.agent, modelSpec);
      const now = clock.now();
      const runId = forkOptions.runId ?? newRunId();
      const reused = source.filter(
        (event) =>
          'step' in event &&
          event.step < fromStep &&
          !(event.type === 'tool_started' && event.reissued === true),
      );
      // A call that started and has no outcome may have acted: running it again under the
      // fork's own idempotency key could repeat its effect.
      const unsettled = foldRun([started, ...reused]).pending.find(
        (call) => call.attemptsStarted > 0,
      );
      if (unsettled) {
        throw new KeelError(
          'invalid_input',
          `fork of ${sourceRunId}: step ${unsettled.step} has a ${unsettled.toolName} call that started and never finished; fork from step ${unsettled.step} or earlier`,
        );
      }
      const events: RunEvent[] = [
        { ...started, modelSpec, startedAt: now, forkOf: { runId: sourceRunId, step: fromStep } },
        { type: 'run_claimed', workerId, claim: 1 },
        ...reused,
      ];
      const journal = events.map((event, index) => ({ seq: index + 1, at: now, event }));
      const record = await store.createRun({
        id: runId,
        agent: started.agent,
        task: started.task,
        createdAt: now,
        events: journal,
        claimBy: { workerId, leaseUntil: now + leaseMs },
      });
      const result = await execute({
        record,
        claim: undefined,
        signal: forkOptions.signal,
        signalMeans: 'cancel',
        journal: journal.map((entry) => ({
          ...entry,
          runId,
          schemaVersion: STORE_SCHEMA_VERSION,
        })),
      });
      if (typeof result !== 'string') return result;
      if (result === 'released') {
        throw new KeelError('lease_lost', `run ${runId} was released before it finished`);
      }
      return runtime.wait(runId);
    },

    async cancel(runId) {
      const controller = active.get(runId);
      if (controller) controller.abort({ kind: 'cancel', by: 'user' } satisfies RunAbort);
      const record = await store.requestCancel(runId, clock.now());
      if (!record) throw new KeelError('not_found', `no run ${runId}`);
      if (record.status === 'queued') {
        const events = await store.readEvents(runId);
        const state = foldRun(events.map((entry) => entry.event as RunEvent));
        let seq = events.at(-1)?.seq ?? 0;
        const at = clock.now();
        const finished: RunEvent[] = [
          { type: 'cancel_requested', by: 'user' },
          {
            type: 'run_finished',
            status: 'cancelled',
            reason: { type: 'cancelled', by: 'user' },
            output: null,
            usage: state.usage,
            steps: state.steps,
          },
        ];
        try {
          await store.append({
            runId,
            guard: { status: 'queued' },
            events: finished.map((event) => ({ seq: ++seq, at, event })),
            finish: {
              status: 'cancelled',
              reason: { type: 'cancelled', by: 'user' },
              output: null,
              inputTokens: 0,
              outputTokens: 0,
              costUsd: 0,
              steps: 0,
              at,
            },
          });
        } catch (error) {
          // Claimed in the meantime: its worker sees the flag at its next heartbeat.
          if (!(KeelError.isInstance(error) && error.code === 'lease_lost')) throw error;
        }
        return (await store.getRun(runId)) ?? record;
      }
      return record;
    },

    async inspect(runId) {
      const record = await store.getRun(runId);
      if (!record) throw new KeelError('not_found', `no run ${runId}`);
      const events = await store.readEvents(runId);
      return { record, events, state: foldRun(events.map((entry) => entry.event as RunEvent)) };
    },

    async wait(runId, { signal, pollMs = 100 } = {}) {
      for (;;) {
        const { record, state } = await runtime.inspect(runId);
        const result = resultOf(record.id, state);
        if (result) return result;
        signal?.throwIfAborted();
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },

    startWorker(workerOptions = {}) {
      const worker = startWorker({
        store,
        clock,
        workerId,
        leaseMs,
        agents: [...byName.keys()],
        execute: async (record, signal) => {
          const result = await execute({
            record,
            claim: { number: record.claims, cancelRequested: record.cancelRequested },
            signal,
            signalMeans: 'release',
          });
          return typeof result === 'string' ? undefined : result;
        },
        ...workerOptions,
      });
      localWorkers.add(worker);
      // Expiries are applied by any running worker: a run parked on an approval nobody
      // decided is denied, escalated or ended on time even if no one looks at it.
      const sweep = setInterval(() => {
        approvals.expireDue().catch((error: unknown) => workerOptions.onError?.('', error));
        approvals.renotify().catch((error: unknown) => workerOptions.onError?.('', error));
      }, options.approvals?.sweepMs ?? 1_000);
      sweep.unref();
      // Decisions made in other processes wake this worker at once where the store can say
      // so (PostgreSQL LISTEN/NOTIFY); elsewhere the next poll finds the run.
      const subscription = store.approvals
        .onRunReady(() => {
          worker.wake();
        })
        .then((unsubscribe) => {
          // A decision committed before the subscription was heard by no one: look now.
          worker.wake();
          return unsubscribe;
        })
        .catch((error: unknown) => {
          workerOptions.onError?.('', error);
          return () => Promise.resolve();
        });
      void worker.done.finally(async () => {
        clearInterval(sweep);
        localWorkers.delete(worker);
        await (
          await subscription
        )();
      });
      return worker;
    },

    async close() {
      await Promise.all([...localWorkers].map((worker) => worker.stop({ abortInFlight: true })));
      for (const controller of active.values())
        controller.abort({ kind: 'release' } satisfies RunAbort);
      await Promise.allSettled([...executions]);
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = undefined;
      await Promise.allSettled(
        observers.map((observer) => observer.flush?.() ?? Promise.resolve()),
      );
    },
  };

  const localWorkers = new Set<Worker>();
  /** Callers of `run` whose run is parked on an approval, woken by local decisions. */
  const decisionWaiters = new Set<() => void>();
  function notifyLocalWorkers(): void {
    for (const worker of localWorkers) worker.wake();
    for (const wake of decisionWaiters) wake();
  }
  /** Until a decision is made here (or a short poll, for decisions made elsewhere). */
  function waitForDecision(signal: AbortSignal | undefined): Promise<void> {
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
  }
  return runtime;
}

/** Sortable, unique run ids: time prefix + randomness. */
export function newRunId(): string {
  return `run_${Date.now().toString(36)}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
