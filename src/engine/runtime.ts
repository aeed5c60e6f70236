import { checkRedactors } from './redaction.js';
import { startHousekeeping } from './housekeeping.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Agent } from '../agent/index.js';
import { foldRun, type RunEvent } from '../journal/index.js';
import { createApprovals, type Approvals } from '../approval/index.js';
import { KeelError, sleep, systemClock, type Clock } from '../core/index.js';
import { createToolPolicies } from '../tools/index.js';
import {
  alertMonitor,
  observeEvents,
  observeModelRequests,
  type RunObserver,
} from '../observe/index.js';
import type { RunRecord, Store } from '../store/index.js';
import { modelPriceProblem, type ModelAdapterV1 } from '../model/index.js';
import { DEFAULT_MODEL_RETRY } from './model-retry.js';
import { forkJournal } from './fork-run.js';
import { leaseKeeper, type LeaseKeeper } from './lease-keeper.js';
import { localWakeups } from './local-wakeups.js';
import { providerGate } from './provider-limits.js';
import type { RunAbort } from './run-executor.js';
import { LocalRuns } from './local-runs.js';
import { reviewEdit } from './review-edit.js';
import { RunJournal } from './run-journal.js';
import { resultOf, type RunResult } from './run-result.js';
import { checkCostLimit, newRunId, runStarted } from './run-start.js';
import {
  RunStreams,
  type FollowRunOptions,
  type RunStream,
  type StreamRunOptions,
} from './run-streams.js';
import {
  checkRunOptions,
  checkRuntimeAgents,
  checkRuntimeOptions,
  type ForkOptions,
  type RunInspection,
  type RuntimeOptions,
  type StartRunOptions,
} from './runtime-options.js';
import { ShadowRuns, type Shadows } from './shadow-runs.js';
import type { Runtime } from './runtime-api.js';

export type { Runtime } from './runtime-api.js';
import { attendShadows } from './shadow-sweep.js';
import {
  attendApprovals,
  checkWorkerOptions,
  startWorker,
  type Worker,
  type WorkerOptions,
} from './worker.js';

/**
 * Create the engine's front door over a store and the agents it can run.
 *
 * ```ts
 * const runtime = createRuntime({ store, agents: [refunds] });
 * ```
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  return new KeelRuntime(options);
}

class KeelRuntime implements Runtime {
  readonly store: Store;
  readonly workerId: string;
  readonly agents: readonly Agent[];
  readonly approvals: Approvals;
  readonly shadows: Shadows;
  readonly #shadowRuns: ShadowRuns;
  readonly #options: RuntimeOptions;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  readonly #maxClaims: number;
  readonly #byName: ReadonlyMap<string, Agent>;
  readonly #leases: LeaseKeeper;
  readonly #wakeups = localWakeups();
  readonly #observers: readonly RunObserver[];
  /** The runs this process executes itself. */
  readonly #local: LocalRuns;
  readonly #stopHousekeeping: () => Promise<void>;
  readonly #streams: RunStreams;

  constructor(options: RuntimeOptions) {
    checkRuntimeOptions(options);
    const { store, agents, clock = systemClock, leaseMs = 15_000, maxClaims = 5 } = options;
    this.store = store;
    this.agents = agents;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#options = options;
    this.#clock = clock;
    this.#leaseMs = leaseMs;
    this.#maxClaims = maxClaims;
    checkRuntimeAgents(agents, options.maxConcurrentRuns);
    this.#byName = new Map(agents.map((agent) => [agent.name, agent]));
    this.approvals = createApprovals({
      store,
      clock,
      resolveTool: (agentName, toolName) => this.#byName.get(agentName)?.tool(toolName),
      redact: checkRedactors(options.redact),
      reviewEdit: (approval, editedArgs) =>
        reviewEdit(store, this.#byName.get(approval.agent), approval, editedArgs),
      notifier: options.approvals?.notifier,
      baseUrl: options.approvals?.baseUrl,
      onNotifyError: options.approvals?.onNotifyError,
      onDecision: options.approvals?.onDecision,
      onRunReady: () => {
        this.#wakeups.notify();
      },
    });
    this.#leases = leaseKeeper({ store, clock, workerId: this.workerId, leaseMs });
    this.#shadowRuns = new ShadowRuns({
      store,
      clock,
      production: this.#byName,
      candidates: options.candidates,
      neutralResult: options.shadowResult,
      redact: options.redact,
      notify: () => {
        this.#wakeups.notify();
      },
    });
    this.shadows = this.#shadowRuns;
    this.#stopHousekeeping = startHousekeeping({
      store,
      clock,
      audit: options.audit,
      retention: options.retention,
    });
    this.#observers = [
      this.#shadowRuns.observer,
      ...(options.observers ?? []),
      ...(options.alerts ? [alertMonitor(options.alerts)] : []),
    ];
    this.#streams = new RunStreams({
      store,
      run: (agentName, task, runOptions, idMadeHere) =>
        this.#runHere(agentName, task, runOptions, idMadeHere),
      cancel: (runId) => this.cancel(runId),
      agent: (name) => this.#byName.get(name),
    });
    this.#local = new LocalRuns({
      store,
      clock,
      workerId: this.workerId,
      leaseMs,
      leases: this.#leases,
      wakeups: this.#wakeups,
      agentFor: (name, modelSpec) => this.#agentFor(name, modelSpec),
      shadows: this.#shadowRuns,
      production: this.#shadowRuns.production,
      executeWith: {
        store,
        clock,
        workerId: this.workerId,
        modelRetry: { ...DEFAULT_MODEL_RETRY, ...options.modelRetry },
        maxClaims,
        onTextDelta: this.#streams.onTextDelta,
        onEvent: this.#streams.onEvent(observeEvents(store, options.onEvent, this.#observers)),
        onModelRequest: observeModelRequests(this.#observers),
        toolPolicies: createToolPolicies({
          ...options.toolPolicies,
          store,
          clock,
          redact: checkRedactors(options.redact),
        }),
        approvals: this.approvals,
        providerGate: providerGate({
          limits: options.providerLimits,
          budgets: store.providerBudgets,
          clock,
        }),
        interceptToolCall: options.interceptToolCall,
      },
    });
  }

  agent(name: string): Agent | undefined {
    return this.#byName.get(name);
  }

  async submit(agentName: string, task: string, options: StartRunOptions = {}): Promise<RunRecord> {
    const started = this.#started(agentName, task, options);
    const record = await this.store.createRun({
      id: options.runId ?? newRunId(),
      agent: agentName,
      task,
      createdAt: this.#clock.now(),
      events: [{ seq: 1, at: this.#clock.now(), event: started }],
    });
    this.#wakeups.notify();
    return record;
  }

  async run(agentName: string, task: string, options: StartRunOptions = {}): Promise<RunResult> {
    return this.#runHere(agentName, task, options, options.runId === undefined);
  }

  async #runHere(
    agentName: string,
    task: string,
    options: StartRunOptions,
    idMadeHere: boolean,
  ): Promise<RunResult> {
    const runId = options.runId ?? newRunId();
    const result = await this.#local.runHere(
      runId,
      [this.#started(agentName, task, options)],
      options.signal,
      // An id Keel made belongs to no other run: the creation can commit as the run starts.
      { commitAhead: idMadeHere },
    );
    if (result === 'released') {
      throw new KeelError(
        'lease_lost',
        `run ${runId} was released before it finished; a worker will resume it`,
      );
    }
    if (result !== 'lost') return result;
    return (
      (await this.#local.resumeAfterDecision(runId, options.signal, options.onWaiting)) ??
      this.wait(runId)
    );
  }

  async fork(sourceRunId: string, options: ForkOptions): Promise<RunResult> {
    checkRunOptions('fork', options);
    const source = (await this.store.readEvents(sourceRunId)).map((entry) => entry.event);
    const original = source.find((event) => event.type === 'run_started');
    const modelSpec = options.model ?? original?.modelSpec;
    const { started, reused } = forkJournal(sourceRunId, source, {
      fromStep: options.fromStep,
      modelSpec,
      now: this.#clock.now(),
    });
    const agent = this.#agentFor(started.agent, modelSpec);
    if (options.model !== undefined) checkCostLimit(agent, undefined, options.model);
    const runId = options.runId ?? newRunId();
    const result = await this.#local.runHere(runId, [started, ...reused], options.signal);
    if (typeof result !== 'string') return result;
    if (result === 'released') {
      throw new KeelError('lease_lost', `run ${runId} was released before it finished`);
    }
    return this.wait(runId);
  }

  async cancel(runId: string): Promise<RunRecord> {
    this.#leases.active.get(runId)?.abort({ kind: 'cancel', by: 'user' } satisfies RunAbort);
    // A run started here whose row is still being written: asked of the store once it exists
    // (one whose creation failed does not).
    await this.#leases.creation(runId)?.catch(() => undefined);
    const record = await this.store.requestCancel(runId, this.#clock.now());
    if (!record) throw new KeelError('not_found', `no run ${runId}`);
    if (record.status !== 'queued') return record;
    // Queued (or parked, which the request queued): nobody executes it, so it ends here.
    const journal = await RunJournal.open({
      store: this.store,
      clock: this.#clock,
      runId,
      guard: { status: 'queued' },
    });
    try {
      await journal.finish('cancelled', { type: 'cancelled', by: 'user' }, [
        { type: 'cancel_requested', by: 'user' },
      ]);
    } catch (error) {
      // Claimed in the meantime: its worker sees the flag at its next heartbeat.
      if (!(KeelError.isInstance(error) && error.code === 'lease_lost')) throw error;
    }
    return (await this.store.getRun(runId)) ?? record;
  }

  async inspect(runId: string): Promise<RunInspection> {
    const record = await this.store.getRun(runId);
    if (!record) throw new KeelError('not_found', `no run ${runId}`);
    const events = await this.store.readEvents(runId);
    return { record, events, state: foldRun(events.map((entry) => entry.event)) };
  }

  async wait(
    runId: string,
    { signal, pollMs = 100 }: { signal?: AbortSignal; pollMs?: number } = {},
  ): Promise<RunResult> {
    for (;;) {
      const { record, state } = await this.inspect(runId);
      const result = resultOf(record.id, state);
      if (result) return result;
      signal?.throwIfAborted();
      await sleep(pollMs);
    }
  }

  startWorker(options: WorkerOptions = {}): Worker {
    checkWorkerOptions(options);
    const worker = startWorker({
      store: this.store,
      clock: this.#clock,
      workerId: this.workerId,
      leaseMs: this.#leaseMs,
      agents: [...this.#byName.keys()],
      maxClaims: this.#maxClaims,
      maxConcurrentRuns: this.#options.maxConcurrentRuns,
      deferShadows: () => this.#shadowRuns.production.busy,
      execute: async (record, signal) => {
        if (record.status !== 'running') return this.#local.endedAtClaim(record);
        const result = await this.#local.execute({
          record,
          claim: { number: record.claims, cancelRequested: record.cancelRequested },
          signal,
          signalMeans: 'release',
        });
        return typeof result === 'string' ? undefined : result;
      },
      ...options,
    });
    this.#wakeups.workers.add(worker);
    attendApprovals(worker, {
      store: this.store,
      approvals: this.approvals,
      sweepMs: this.#options.approvals?.sweepMs ?? 1_000,
      onError: options.onError,
    });
    const { onError } = options;
    attendShadows(worker, { sweep: (at) => this.shadows.sweep(at), clock: this.#clock, onError });
    void worker.done.finally(() => this.#wakeups.workers.delete(worker));
    return worker;
  }

  stream(first: string, second?: string | FollowRunOptions, third?: StreamRunOptions): RunStream {
    return this.#streams.stream(first, second, third);
  }

  async close(): Promise<void> {
    await this.#streams.close();
    await Promise.all(
      [...this.#wakeups.workers].map((worker) => worker.stop({ abortInFlight: true })),
    );
    for (const controller of this.#leases.active.values())
      controller.abort({ kind: 'release' } satisfies RunAbort);
    await this.#local.settle();
    this.#leases.stop();
    await this.#stopHousekeeping();
    // Production is over here: finished runs are considered for their shadows now, not after
    // the quiet time that keeps shadow work from slowing the next production run.
    this.#shadowRuns.production.end();
    await Promise.allSettled(
      this.#observers.map((observer) => observer.flush?.() ?? Promise.resolve()),
    );
  }

  #agentFor(name: string, modelSpec: string | undefined): Agent {
    const agent = this.#byName.get(name);
    if (!agent) {
      const known = [...this.#byName.keys()].join(', ') || 'none';
      throw new KeelError('not_found', `unknown agent "${name}"; known agents: ${known}`);
    }
    if (modelSpec === undefined) return agent;
    if (!this.#options.resolveModel) {
      throw new KeelError(
        'invalid_input',
        `run asks for model "${modelSpec}" but no model resolver is configured`,
      );
    }
    return agent.withModel(resolveRunModel(this.#options.resolveModel, modelSpec, agent));
  }

  #started(agentName: string, task: string, options: StartRunOptions): RunEvent {
    checkRunOptions('run', options);
    if (typeof task !== 'string' || task.trim() === '') {
      throw new KeelError('invalid_input', 'a run needs a non-empty task');
    }
    const agent = this.#agentFor(agentName, options.model);
    const { model: modelSpec, limits, shadow } = options;
    return runStarted({
      agent,
      task,
      modelSpec,
      limits,
      shadow,
      now: this.#clock.now(),
      redact: this.#options.redact,
    });
  }
}

/**
 * A run's model string is its caller's input, not the runtime's configuration: one that does
 * not resolve (unknown, malformed, or a provider whose key this process lacks) is
 * `invalid_input`, as any other bad argument of `run`, `submit` or `fork`.
 */
function resolveRunModel(
  resolve: NonNullable<RuntimeOptions['resolveModel']>,
  modelSpec: string,
  agent: Agent,
): ModelAdapterV1 {
  let model: ModelAdapterV1;
  try {
    model = resolve(modelSpec, agent);
  } catch (error) {
    if (KeelError.isInstance(error) && error.code === 'invalid_config') {
      throw new KeelError('invalid_input', error.message, { cause: error });
    }
    throw error;
  }
  // A resolver may build its adapter by hand: its price is checked as a definition's is.
  for (const [index, each] of [model, ...(model.fallbacks ?? [])].entries()) {
    const problem = modelPriceProblem(each.price);
    if (problem !== undefined)
      throw new KeelError(
        'invalid_input',
        `model "${modelSpec}"${index === 0 ? '' : ` (fallback ${String(index)})`} has a price no cost can be computed from: ${problem}`,
      );
  }
  return model;
}
