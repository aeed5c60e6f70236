import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Agent } from '../agent/index.js';
import { foldRun, type RunEvent } from '../journal/index.js';
import { createApprovals, type Approvals, type GateDecision } from '../approval/index.js';
import { reviewCall, type ReviewedCall } from '../guard/index.js';
import { ROUTING_ONLY } from './gate-calls.js';
import { runContext } from './guard-review.js';
import { KeelError, systemClock, type Clock } from '../core/index.js';
import { createToolPolicies } from '../tools/index.js';
import {
  alertMonitor,
  observeEvents,
  observeModelRequests,
  type RunObserver,
} from '../observe/index.js';
import {
  STORE_SCHEMA_VERSION,
  type ApprovalRecord,
  type RunRecord,
  type StoredEvent,
  type Store,
} from '../store/index.js';
import { DEFAULT_MODEL_RETRY } from './model-retry.js';
import { forkJournal } from './fork-run.js';
import type { ExecuteRunContext } from './execution.js';
import { leaseKeeper, type LeaseKeeper } from './lease-keeper.js';
import { localWakeups } from './local-wakeups.js';
import { providerGate } from './provider-limits.js';
import { executeRun, type RunAbort } from './run-executor.js';
import { RunJournal } from './run-journal.js';
import { resultOf, type RunResult } from './run-result.js';
import {
  RunStreams,
  type FollowRunOptions,
  type RunStream,
  type StreamRunOptions,
} from './run-streams.js';
import { newRunId, runStarted } from './run-start.js';
import type {
  ForkOptions,
  RunInspection,
  RuntimeOptions,
  StartRunOptions,
} from './runtime-options.js';
import { attendApprovals, startWorker, type Worker, type WorkerOptions } from './worker.js';

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
  /**
   * Start a run executing here and stream its events as they happen: text as the model sends
   * it, tool calls and results, approvals, limits, and `run_finished` with the result `run`
   * returns. Aborting `options.signal` cancels the run (or, with `abort: 'subscription'`, only
   * ends the stream). See docs/streaming.md.
   */
  stream(agentName: string, task: string, options?: StreamRunOptions): RunStream;
  /**
   * Follow a run queued or executing on any worker, from `afterSeq` on: its journaled events,
   * and live text where it executes in this process.
   */
  stream(runId: string, options?: FollowRunOptions): RunStream;
  /** Stop heartbeats and release held runs so other workers resume them at once. */
  close(): Promise<void>;
}

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
  readonly #options: RuntimeOptions;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  readonly #maxClaims: number;
  readonly #byName: ReadonlyMap<string, Agent>;
  readonly #leases: LeaseKeeper;
  readonly #wakeups = localWakeups();
  readonly #observers: readonly RunObserver[];
  /** What every execution in this process shares. */
  readonly #executeWith: Omit<ExecuteRunContext, 'runId' | 'resolveAgent' | 'controller'>;
  /** Executions in this process, so `close` can wait for them to let go. */
  readonly #executions = new Set<Promise<unknown>>();
  readonly #streams: RunStreams;

  constructor(options: RuntimeOptions) {
    const { store, agents, clock = systemClock, leaseMs = 15_000, maxClaims = 5 } = options;
    this.store = store;
    this.agents = agents;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#options = options;
    this.#clock = clock;
    this.#leaseMs = leaseMs;
    this.#maxClaims = maxClaims;
    this.#byName = new Map(agents.map((agent) => [agent.name, agent]));
    if (this.#byName.size !== agents.length) {
      const names = agents.map((agent) => agent.name);
      const shared = [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
      throw new KeelError(
        'invalid_config',
        `createRuntime: agents must have distinct names; ${shared.map((name) => `"${name}"`).join(', ')} given more than once`,
      );
    }
    for (const [name, bound] of Object.entries(options.maxConcurrentRuns ?? {})) {
      if (!this.#byName.has(name))
        throw new KeelError(
          'invalid_config',
          `createRuntime: "maxConcurrentRuns.${name}" names no agent`,
        );
      if (!Number.isInteger(bound) || bound < 1)
        throw new KeelError(
          'invalid_config',
          `createRuntime: "maxConcurrentRuns.${name}" must be an integer >= 1`,
        );
    }
    this.approvals = createApprovals({
      store,
      clock,
      resolveTool: (agentName, toolName) => this.#byName.get(agentName)?.tool(toolName),
      reviewEdit: (approval, editedArgs) => this.#reviewEdit(approval, editedArgs),
      notifier: options.approvals?.notifier,
      baseUrl: options.approvals?.baseUrl,
      onNotifyError: options.approvals?.onNotifyError,
      onDecision: options.approvals?.onDecision,
      onRunReady: () => {
        this.#wakeups.notify();
      },
    });
    this.#leases = leaseKeeper({ store, clock, workerId: this.workerId, leaseMs });
    this.#observers = [
      ...(options.observers ?? []),
      ...(options.alerts ? [alertMonitor(options.alerts)] : []),
    ];
    this.#streams = new RunStreams({
      store,
      run: (agentName, task, runOptions) => this.run(agentName, task, runOptions),
      cancel: (runId) => this.cancel(runId),
      agent: (name) => this.#byName.get(name),
    });
    this.#executeWith = {
      onTextDelta: this.#streams.onTextDelta,
      store,
      clock,
      workerId: this.workerId,
      modelRetry: { ...DEFAULT_MODEL_RETRY, ...options.modelRetry },
      maxClaims,
      onEvent: this.#streams.onEvent(observeEvents(store, options.onEvent, this.#observers)),
      onModelRequest: observeModelRequests(this.#observers),
      toolPolicies: createToolPolicies({ ...options.toolPolicies, store, clock }),
      approvals: this.approvals,
      providerGate: providerGate({
        limits: options.providerLimits,
        budgets: store.providerBudgets,
        clock,
      }),
      interceptToolCall: options.interceptToolCall,
    };
  }

  /**
   * The guard and the gates on an approval's call with other arguments, as if the model had
   * sent them at that step: what an approver's edit must pass.
   */
  async #reviewEdit(approval: ApprovalRecord, editedArgs: unknown): Promise<GateDecision> {
    const agent = this.#byName.get(approval.agent);
    const tool = agent?.tool(approval.toolName);
    if (!agent || !tool)
      throw new KeelError(
        'conflict',
        `agent "${approval.agent}" with tool "${approval.toolName}" is not loaded here: decide where it runs`,
      );
    const state = foldRun(
      (await this.store.readEvents(approval.runId)).map((entry) => entry.event),
    );
    const call: ReviewedCall = {
      runId: approval.runId,
      agent: agent.name,
      step: approval.step,
      index: approval.callIndex,
      toolName: tool.name,
      effect: tool.effect,
      input: editedArgs,
      tainted: state.tainted,
      context: runContext(agent, state),
    };
    const review = reviewCall(call, { guard: agent.guard, signalled: state.signalled });
    return (agent.gates ?? ROUTING_ONLY).decide(call, review);
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
    const runId = options.runId ?? newRunId();
    const result = await this.#runHere(
      runId,
      [this.#started(agentName, task, options)],
      options.signal,
    );
    if (result === 'released') {
      throw new KeelError(
        'lease_lost',
        `run ${runId} was released before it finished; a worker will resume it`,
      );
    }
    if (result !== 'lost') return result;
    return this.#resumeAfterDecision(runId, options.signal, options.onWaiting);
  }

  async fork(sourceRunId: string, options: ForkOptions): Promise<RunResult> {
    const source = (await this.store.readEvents(sourceRunId)).map((entry) => entry.event);
    const original = source.find((event) => event.type === 'run_started');
    const modelSpec = options.model ?? original?.modelSpec;
    const { started, reused } = forkJournal(sourceRunId, source, {
      fromStep: options.fromStep,
      modelSpec,
      now: this.#clock.now(),
    });
    this.#agentFor(started.agent, modelSpec);
    const runId = options.runId ?? newRunId();
    const result = await this.#runHere(runId, [started, ...reused], options.signal);
    if (typeof result !== 'string') return result;
    if (result === 'released') {
      throw new KeelError('lease_lost', `run ${runId} was released before it finished`);
    }
    return this.wait(runId);
  }

  async cancel(runId: string): Promise<RunRecord> {
    this.#leases.active.get(runId)?.abort({ kind: 'cancel', by: 'user' } satisfies RunAbort);
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
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  startWorker(options: WorkerOptions = {}): Worker {
    const worker = startWorker({
      store: this.store,
      clock: this.#clock,
      workerId: this.workerId,
      leaseMs: this.#leaseMs,
      agents: [...this.#byName.keys()],
      maxClaims: this.#maxClaims,
      maxConcurrentRuns: this.#options.maxConcurrentRuns,
      execute: async (record, signal) => {
        if (record.status !== 'running') return this.#endedAtClaim(record);
        const result = await this.#execute({
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
    await Promise.allSettled([...this.#executions]);
    this.#leases.stop();
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
        'invalid_config',
        `run asks for model "${modelSpec}" but no model resolver is configured`,
      );
    }
    return agent.withModel(this.#options.resolveModel(modelSpec, agent));
  }

  #started(agentName: string, task: string, options: StartRunOptions): RunEvent {
    if (typeof task !== 'string' || task.trim() === '') {
      throw new KeelError('invalid_input', 'a run needs a non-empty task');
    }
    const agent = this.#agentFor(agentName, options.model);
    const { model: modelSpec, limits } = options;
    return runStarted({ agent, task, modelSpec, limits, now: this.#clock.now() });
  }

  /**
   * Create a run already claimed by this process (`events` after its `run_started` are reused
   * as they are) and execute it here; a signal aborting cancels it.
   */
  async #runHere(
    runId: string,
    [started, ...reused]: readonly RunEvent[],
    signal: AbortSignal | undefined,
  ): Promise<RunResult | 'released' | 'lost'> {
    if (started?.type !== 'run_started')
      throw new KeelError('internal', 'a run starts with run_started');
    const now = this.#clock.now();
    const claimed: RunEvent = { type: 'run_claimed', workerId: this.workerId, claim: 1, at: now };
    const journal = [started, claimed, ...reused].map((event, index) => ({
      seq: index + 1,
      at: now,
      event,
    }));
    const record = await this.store.createRun({
      id: runId,
      agent: started.agent,
      task: started.task,
      createdAt: now,
      events: journal,
      claimBy: { workerId: this.workerId, leaseUntil: now + this.#leaseMs },
    });
    return this.#execute({
      record,
      claim: undefined,
      signal,
      signalMeans: 'cancel',
      journal: journal.map((entry) => ({ ...entry, runId, schemaVersion: STORE_SCHEMA_VERSION })),
    });
  }

  /**
   * A run the store ended at the claim (its watchdog's worker died too): observers hear of its
   * end here (an `in_doubt` alert), as they would from the worker that ended it.
   */
  async #endedAtClaim(record: RunRecord): Promise<RunResult | undefined> {
    const events = await this.store.readEvents(record.id);
    const last = events.at(-1)?.event;
    if (last?.type === 'run_finished') this.#executeWith.onEvent?.(record.id, last);
    return resultOf(record.id, foldRun(events.map((entry) => entry.event)));
  }

  /**
   * A run this caller started is parked on an approval: wait for the decision and resume it
   * here, unless a worker claims it first (then wait for that worker to finish it).
   */
  async #resumeAfterDecision(
    runId: string,
    signal: AbortSignal | undefined,
    onWaiting?: StartRunOptions['onWaiting'],
  ): Promise<RunResult> {
    const reported = new Set<string>();
    for (;;) {
      const current = await this.store.getRun(runId);
      if (current?.status !== 'waiting' && current?.status !== 'queued') break;
      if (current.status === 'waiting') {
        signal?.throwIfAborted();
        if (onWaiting) {
          const pending = await this.store.approvals.list({ runId, states: ['pending'] });
          const fresh = pending.filter((approval) => !reported.has(approval.id));
          for (const approval of fresh) reported.add(approval.id);
          if (fresh.length > 0) onWaiting(fresh);
        }
        await this.#wakeups.waitForDecision(signal);
        continue;
      }
      const claimed = await this.store.claimRun({
        runId,
        workerId: this.workerId,
        now: this.#clock.now(),
        leaseMs: this.#leaseMs,
      });
      if (!claimed) break;
      const resumed = await this.#execute({
        record: claimed,
        claim: { number: claimed.claims, cancelRequested: claimed.cancelRequested },
        signal,
        signalMeans: 'cancel',
      });
      if (typeof resumed !== 'string') return resumed;
      if (resumed === 'released') break;
    }
    // Lost: another worker holds it now and will finish it.
    return this.wait(runId);
  }

  /**
   * Execute a run this process holds. `signal` aborting means cancel (a caller giving up on
   * its run) or release (a worker shutting down: the run is handed back for another worker).
   */
  async #execute({
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
    const untrack = this.#leases.track(record.id, controller);
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
      ...this.#executeWith,
      runId: record.id,
      resolveAgent: (folded) => this.#agentFor(record.agent, folded.modelSpec),
      controller,
      claim,
      journal,
    }).then((state) => (state ? resultOf(record.id, state) : undefined));
    this.#executions.add(work);
    try {
      const result = await work;
      if (result) return result;
      const reason = controller.signal.reason as RunAbort | undefined;
      if (reason?.kind === 'release') {
        await this.store.releaseLease(record.id, this.workerId).catch(() => undefined);
        return 'released';
      }
      return 'lost';
    } finally {
      this.#executions.delete(work);
      signal?.removeEventListener('abort', onExternalAbort);
      untrack();
    }
  }
}
