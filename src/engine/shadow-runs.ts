import { randomUUID } from 'node:crypto';
import type { Agent } from '../agent/index.js';
import { KeelError, type Clock, type Redactor } from '../core/index.js';
import type { RunEvent, RunState, StoredEvent } from '../journal/index.js';
import type { JournalEvent, RunObserver } from '../observe/index.js';
import type { ShadowPair, ShadowRecord, Store } from '../store/index.js';
import { ProductionLoad } from './production-load.js';
import { newRunId, runStarted } from './run-start.js';
import { inShadowSample } from './shadow-sampling.js';
import { recordedResults, shadowRoute, type Recording, type ShadowResult } from './shadow-route.js';
import { sweepShadows } from './shadow-sweep.js';
import type { ToolCallInterceptor } from './tool-interception.js';

/** What `runtime.shadows.start` takes. */
export interface ShadowStartOptions {
  /** The production agent whose finished runs are sampled. */
  readonly agent: string;
  /** The candidate: the same agent name, another version. */
  readonly candidate: Agent;
  /** Share of production runs repeated by the candidate, in (0, 1]. Default 0.2. */
  readonly share?: number | undefined;
  /** Shadow runs queued or running at once, at most (a sampled run beyond is skipped). Default 2. */
  readonly maxConcurrent?: number | undefined;
  /** The shadow's budget in USD: sampling stops once its runs cost this much. Default: none. */
  readonly maxCostUsd?: number | undefined;
  /** Let a `read` call without a recorded result run live. Default false (neutral result). */
  readonly allowLiveReads?: boolean | undefined;
  /** Where other processes load the candidate from (the CLI records the module path). */
  readonly candidateModule?: string | undefined;
  readonly id?: string | undefined;
}

/**
 * Shadows of a runtime: a candidate version of an agent repeats a deterministic sample of the
 * agent's finished production runs as shadow runs, which are served the production run's
 * recorded tool results and never execute a side effect.
 *
 * ```ts
 * const shadow = await runtime.shadows.start({ agent: 'triage', candidate: triageV2, share: 0.2 });
 * // ... production runs finish; sampled ones get a paired shadow run on any worker ...
 * await runtime.shadows.stop(shadow.id);
 * ```
 */
export interface Shadows {
  start(options: ShadowStartOptions): Promise<ShadowRecord>;
  stop(id: string): Promise<ShadowRecord>;
  list(options?: { readonly active?: boolean }): Promise<ShadowRecord[]>;
  /**
   * Queue the shadow runs a finished production run is sampled for (what the runtime does by
   * itself when a run finishes); the ids of the shadow runs queued.
   */
  consider(runId: string): Promise<string[]>;
  /**
   * Queue the pairs a process that died left unqueued (a sampled production run that finished
   * with no pair, a pair with no shadow run); idempotent. Workers do it as they start and every
   * minute; the ids of the shadow runs queued.
   */
  sweep(options?: { since?: number; graceMs?: number }): Promise<string[]>;
}

/** What the runtime keeps for its shadows: the candidates, the queueing and the interception. */
export class ShadowRuns implements Shadows {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #production: ReadonlyMap<string, Agent>;
  readonly #candidates = new Map<string, Agent>();
  readonly #notify: () => void;
  readonly #neutralResult: ShadowResult | undefined;
  readonly #redact: readonly Redactor[];
  readonly #pending = new Set<Promise<unknown>>();
  #last: Promise<unknown> = Promise.resolve();
  /** Fed each committed event: a finished production run is considered for its shadows. */
  readonly observer: RunObserver;
  /** The production runs executing in this process, which shadow work here gives way to. */
  readonly production: ProductionLoad;

  constructor(options: {
    readonly store: Store;
    readonly clock: Clock;
    readonly production: ReadonlyMap<string, Agent>;
    readonly candidates?: readonly Agent[] | undefined;
    readonly neutralResult?: ShadowResult | undefined;
    /** The runtime's redactors, recorded with each shadow run as with production runs. */
    readonly redact?: readonly Redactor[] | undefined;
    /** Wakes this process's idle workers when a shadow run is queued. */
    readonly notify: () => void;
  }) {
    this.#neutralResult = options.neutralResult;
    this.#redact = options.redact ?? [];
    this.#store = options.store;
    this.#clock = options.clock;
    this.#production = options.production;
    this.#notify = options.notify;
    this.production = new ProductionLoad(options.notify);
    for (const candidate of options.candidates ?? []) this.#addCandidate(candidate);
    this.observer = {
      onEvent: (runId: string, event: JournalEvent) => {
        if (event.type !== 'run_finished') return;
        // Queued once the process is quiet (beside the next production run it would slow it; a
        // process dying meanwhile leaves it to the sweep), one after another (each counts the
        // shadow runs the one before queued, for `maxConcurrent`).
        const work = this.#last
          .then(() => this.production.idle())
          .then(() => this.consider(runId))
          .catch(() => undefined)
          .finally(() => this.#pending.delete(work));
        this.#last = work;
        this.#pending.add(work);
      },
      flush: async () => {
        await Promise.allSettled([...this.#pending]);
      },
    };
  }

  #addCandidate(candidate: Agent): void {
    this.#candidates.set(`${candidate.name}@${candidate.version}`, candidate);
  }

  async start(options: ShadowStartOptions): Promise<ShadowRecord> {
    const where = 'shadows.start';
    const production = this.#production.get(options.agent);
    if (!production)
      throw new KeelError(
        'invalid_input',
        `${where}: "agent" names no agent here ("${options.agent}")`,
      );
    const { candidate } = options;
    if (typeof candidate !== 'object' || typeof candidate.tool !== 'function')
      throw new KeelError(
        'invalid_input',
        `${where}: "candidate" must be an agent from defineAgent`,
      );
    if (candidate.name !== production.name)
      throw new KeelError(
        'invalid_input',
        `${where}: "candidate" is agent "${candidate.name}"; a candidate of "${production.name}" must have its name`,
      );
    if (candidate.version === production.version)
      throw new KeelError(
        'invalid_input',
        `${where}: "candidate" has the production version (${production.version}); give it another version or change it`,
      );
    const share = options.share ?? 0.2;
    if (typeof share !== 'number' || !(share > 0 && share <= 1))
      throw new KeelError('invalid_input', `${where}: "share" must be a number in (0, 1]`);
    const maxConcurrent = options.maxConcurrent ?? 2;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new KeelError('invalid_input', `${where}: "maxConcurrent" must be an integer >= 1`);
    if (
      options.maxCostUsd !== undefined &&
      !(
        typeof options.maxCostUsd === 'number' &&
        options.maxCostUsd > 0 &&
        Number.isFinite(options.maxCostUsd)
      )
    )
      throw new KeelError('invalid_input', `${where}: "maxCostUsd" must be a positive number`);
    this.#addCandidate(candidate);
    const record: ShadowRecord = {
      id: options.id ?? `sh_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
      agent: production.name,
      candidateVersion: candidate.version,
      candidateModule: options.candidateModule ?? null,
      share,
      maxConcurrent,
      maxCostUsd: options.maxCostUsd ?? null,
      allowLiveReads: options.allowLiveReads === true,
      startedAt: this.#clock.now(),
      stoppedAt: null,
      stopReason: null,
    };
    await this.#store.shadows.save(record);
    return record;
  }

  async stop(id: string): Promise<ShadowRecord> {
    const stopped = await this.#store.shadows.stop(id, this.#clock.now());
    if (!stopped) throw new KeelError('not_found', `no shadow ${id}`);
    return stopped;
  }

  list(options: { readonly active?: boolean } = {}): Promise<ShadowRecord[]> {
    return this.#store.shadows.list(options);
  }

  async consider(runId: string): Promise<string[]> {
    // One small query when no shadow runs: the journal is read only when one does.
    const active = await this.#store.shadows.list({ active: true });
    if (active.length === 0) return [];
    const journal = await this.#store.readEvents(runId);
    const started = journal[0]?.event;
    if (started?.type !== 'run_started' || started.shadowOf !== undefined) return [];
    const finished = journal.at(-1);
    if (finished?.event.type !== 'run_finished') return [];
    const queued: string[] = [];
    for (const shadow of active.filter((each) => each.agent === started.agent)) {
      // A run that finished before the shadow started is not its traffic.
      if (finished.at < shadow.startedAt || !inShadowSample(runId, shadow.share)) continue;
      const id = await this.#queue(shadow, runId, started);
      if (id !== undefined) queued.push(id);
    }
    return queued;
  }

  /** Queue one shadow run for a sampled production run, within the shadow's bounds. */
  async #queue(
    shadow: ShadowRecord,
    runId: string,
    started: Extract<RunEvent, { type: 'run_started' }>,
  ): Promise<string | undefined> {
    const candidate = this.#candidates.get(`${shadow.agent}@${shadow.candidateVersion}`);
    if (!candidate) return undefined;
    const maxCostUsd = await this.#costLimit(shadow, candidate, { bounded: true });
    if (maxCostUsd === undefined) return undefined;
    // The pair first: a production run gets one shadow run per shadow, however often it is
    // considered (two processes, a retry, a sweep). A process dying before the run below is
    // created leaves the pair without its run: `sweep` creates it.
    const pair = {
      shadowId: shadow.id,
      runId,
      candidateRunId: newRunId(),
      createdAt: this.#clock.now(),
    };
    if (!(await this.#store.shadows.addPair(pair))) return undefined;
    await this.#createShadowRun(pair, candidate, started, maxCostUsd);
    this.#notify();
    return pair.candidateRunId;
  }

  /**
   * The cost limit of a new shadow run of `shadow`: the candidate's, within what is left of the
   * shadow's budget; `undefined` when none may start (budget spent: the shadow stops; or, when
   * `bounded`, `maxConcurrent` shadow runs are waiting or running).
   */
  async #costLimit(
    shadow: ShadowRecord,
    candidate: Agent,
    { bounded }: { readonly bounded: boolean },
  ): Promise<number | undefined> {
    const usage = await this.#store.shadows.usage(shadow.id);
    let maxCostUsd = candidate.limits.maxCostUsd;
    if (shadow.maxCostUsd !== null) {
      const left = shadow.maxCostUsd - usage.costUsd;
      // Spent, or so nearly that a shadow run stopped on what was left.
      if (left <= 0 || usage.costStops > 0) {
        await this.#store.shadows.stop(shadow.id, this.#clock.now(), 'budget');
        return undefined;
      }
      maxCostUsd = Math.min(maxCostUsd, left);
    }
    if (bounded && usage.active >= shadow.maxConcurrent) return undefined;
    return maxCostUsd;
  }

  async #createShadowRun(
    pair: ShadowPair,
    candidate: Agent,
    started: Extract<RunEvent, { type: 'run_started' }>,
    maxCostUsd: number,
  ): Promise<void> {
    const now = this.#clock.now();
    const event = runStarted({
      agent: candidate,
      task: started.task,
      modelSpec: undefined,
      limits: { maxCostUsd },
      now,
      shadow: { of: pair.runId, id: pair.shadowId },
      redact: this.#redact,
    });
    await this.#store.createRun({
      id: pair.candidateRunId,
      agent: candidate.name,
      task: started.task,
      createdAt: now,
      events: [{ seq: 1, at: now, event }],
    });
  }

  /**
   * Queue what a process that died left unqueued (see `sweepShadows`); the ids of the shadow
   * runs queued. A runtime's workers sweep when they start and every `shadowSweepMs`.
   */
  async sweep(options: { since?: number; graceMs?: number } = {}): Promise<string[]> {
    const queued = await sweepShadows(this.#store, this.#clock, this, options);
    if (queued.length > 0) this.#notify();
    return queued;
  }

  /** Create the shadow run of a pair that has none (its process died in between). */
  async repair(pair: ShadowPair): Promise<boolean> {
    const shadow = await this.#store.shadows.get(pair.shadowId);
    const candidate = shadow && this.#candidates.get(`${shadow.agent}@${shadow.candidateVersion}`);
    const started = (await this.#store.readEvents(pair.runId))[0]?.event;
    if (!shadow || shadow.stoppedAt !== null || !candidate || started?.type !== 'run_started')
      return false;
    const maxCostUsd = await this.#costLimit(shadow, candidate, { bounded: false });
    if (maxCostUsd === undefined) return false;
    await this.#createShadowRun(pair, candidate, started, maxCostUsd);
    return true;
  }

  /** The candidate a shadow run executes with; `undefined` for any other run. */
  resolve(state: RunState): Agent | undefined {
    if (state.shadowOf === undefined) return undefined;
    const candidate = this.#candidates.get(`${state.agent}@${state.version ?? ''}`);
    if (!candidate)
      throw new KeelError(
        'not_found',
        `shadow run of "${state.agent}" needs candidate version ${state.version ?? '?'}, which this worker has not loaded`,
      );
    return candidate;
  }

  /**
   * The interceptor of one shadow run: served from its production run's journal (read once),
   * under its shadow's settings (a shadow no longer in the store allows no live reads).
   */
  interceptor(runId: string): ToolCallInterceptor {
    let loaded: Promise<{ recording: Recording; allowLiveReads: boolean }> | undefined;
    const load = async () => {
      const own = (await this.#store.readEvents(runId))[0]?.event;
      if (own?.type !== 'run_started' || own.shadowOf === undefined)
        return { recording: new Map() as Recording, allowLiveReads: false };
      const [events, shadow] = await Promise.all([
        this.#store.readEvents(own.shadowOf),
        own.shadowId === undefined ? undefined : this.#store.shadows.get(own.shadowId),
      ]);
      return {
        recording: recordedResults(events.map((entry: StoredEvent) => entry.event)),
        allowLiveReads: shadow?.allowLiveReads === true,
      };
    };
    const neutralResult = this.#neutralResult;
    return async function shadowInterceptor(call) {
      loaded ??= load().catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      const { recording, allowLiveReads } = await loaded;
      return shadowRoute(call, recording, { allowLiveReads, neutralResult });
    };
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}
