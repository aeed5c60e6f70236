import { randomUUID } from 'node:crypto';
import type { Agent } from '../agent/index.js';
import { KeelError, canonicalJson, type Clock, type Redactor } from '../core/index.js';
import type { RunEvent, RunState, StoredEvent } from '../journal/index.js';
import type { JournalEvent, RunObserver } from '../observe/index.js';
import type { ShadowRecord, Store } from '../store/index.js';
import { newRunId, runStarted } from './run-start.js';
import { inShadowSample } from './shadow-sampling.js';
import type {
  InterceptedCall,
  InterceptedResult,
  ToolCallInterceptor,
  ToolCallRoute,
} from './tool-interception.js';

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
}

/**
 * The result a shadow run's suppressed call is given: typed, neutral, saying it did not run.
 * The model sees it as the tool's result.
 */
export function neutralShadowResult(call: InterceptedCall, reason: string): InterceptedResult {
  return {
    ok: true,
    value: { shadow: true, executed: false, tool: call.toolName, effect: call.effect, reason },
  };
}

/** A production run's recorded outcomes by canonical (tool, arguments). */
type Recording = Map<string, InterceptedResult>;

/** The recorded outcome of each call a production run made (the first of identical calls). */
export function recordedResults(events: readonly RunEvent[]): Recording {
  const requested = new Map<string, string>();
  const recording: Recording = new Map();
  const intercepted = new Set<string>();
  for (const event of events) {
    if (event.type === 'tool_requested') {
      requested.set(`${event.step}:${event.callId}`, callKeyOf(event.toolName, event.input));
    } else if (event.type === 'tool_intercepted') {
      intercepted.add(`${event.step}:${event.callId}`);
    } else if (event.type === 'tool_finished' || (event.type === 'tool_failed' && event.final)) {
      const id = `${event.step}:${event.callId}`;
      const key = requested.get(id);
      if (key === undefined || intercepted.has(id) || recording.has(key)) continue;
      recording.set(
        key,
        event.type === 'tool_finished'
          ? { ok: true, value: event.content }
          : { ok: false, error: event.error },
      );
    }
  }
  return recording;
}

function callKeyOf(toolName: string, input: unknown): string {
  return `${toolName}:${canonicalJson(input ?? null)}`;
}

/**
 * The routing of a shadow run's calls: the production run's recorded result when the tool and
 * canonical arguments match; else a `read` runs live only when the shadow allows it; anything
 * else (and any call the gates would have held for a human) is suppressed with a neutral
 * result. Nothing here can let a `write`, `irreversible` or `egress` call execute.
 */
export function shadowRoute(
  call: InterceptedCall,
  recording: Recording,
  {
    allowLiveReads,
    neutralResult = neutralShadowResult,
  }: {
    readonly allowLiveReads: boolean;
    /** The result a suppressed call is given (default `neutralShadowResult`). */
    readonly neutralResult?: ShadowResult | undefined;
  },
): ToolCallRoute {
  const recorded = recording.get(callKeyOf(call.toolName, call.input));
  if (recorded) return { type: 'serve', source: 'shadow: production run', result: recorded };
  if (call.wouldNeedApproval) {
    const reason = 'would need approval; no recorded result';
    return { type: 'suppress', reason, result: neutralResult(call, reason) };
  }
  if (call.effect === 'read' && allowLiveReads) return { type: 'execute' };
  const reason =
    call.effect === 'read'
      ? 'read with no recorded result; live reads are off'
      : `${call.effect} never runs in a shadow run`;
  return { type: 'suppress', reason, result: neutralResult(call, reason) };
}

/** The result a shadow run's suppressed call is given instead of running. */
export type ShadowResult = (call: InterceptedCall, reason: string) => InterceptedResult;

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
  /** Fed each committed event: a finished production run is considered for its shadows. */
  readonly observer: RunObserver;

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
    for (const candidate of options.candidates ?? []) this.#addCandidate(candidate);
    this.observer = {
      onEvent: (runId: string, event: JournalEvent) => {
        if (event.type !== 'run_finished') return;
        const work = this.consider(runId)
          .catch(() => undefined)
          .finally(() => this.#pending.delete(work));
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
    if (journal.at(-1)?.event.type !== 'run_finished') return [];
    const queued: string[] = [];
    for (const shadow of active.filter((each) => each.agent === started.agent)) {
      if (!inShadowSample(runId, shadow.share)) continue;
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
    if (usage.active >= shadow.maxConcurrent) return undefined;
    const candidateRunId = newRunId();
    const now = this.#clock.now();
    // The pair first: a production run gets one shadow run per shadow, however often it is
    // considered (two processes, a retry).
    const added = await this.#store.shadows.addPair({
      shadowId: shadow.id,
      runId,
      candidateRunId,
      createdAt: now,
    });
    if (!added) return undefined;
    const event = runStarted({
      agent: candidate,
      task: started.task,
      modelSpec: undefined,
      limits: { maxCostUsd },
      now,
      shadow: { of: runId, id: shadow.id },
      redact: this.#redact,
    });
    await this.#store.createRun({
      id: candidateRunId,
      agent: candidate.name,
      task: started.task,
      createdAt: now,
      events: [{ seq: 1, at: now, event }],
    });
    this.#notify();
    return candidateRunId;
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
