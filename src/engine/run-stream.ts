import { KeelError, type Provenance } from '../core/index.js';
import {
  applyEvent,
  emptyRunState,
  type LimitName,
  type RunEvent,
  type RunState,
  type ToolEffect,
  type ToolFailure,
} from '../journal/index.js';
import type { RunJournalStore, StoredEvent } from '../store/index.js';
import type { TextDelta } from './execution.js';
import { resultOf, type RunResult } from './run-result.js';

/**
 * One event of a run's stream. Journaled events carry their journal sequence number (`seq`,
 * unique per run, the SSE `id`); `step_started` and `text_delta` are derived or live and carry
 * the sequence number they follow. Closed: a consumer can switch over `type` exhaustively.
 */
export type RunStreamEvent =
  | {
      readonly type: 'run_started';
      readonly seq: number;
      readonly runId: string;
      readonly agent: string;
      readonly task: string;
      readonly model: { readonly provider: string; readonly modelId: string };
    }
  | { readonly type: 'step_started'; readonly seq: number; readonly step: number }
  | {
      /**
       * A piece of the step's reply text as the model sends it (live only). `catchUp` marks the
       * text so far of a reply already under way when the stream joined or resumed: it replaces
       * what the consumer held for that step. A new `attempt` (a retried call) starts the
       * step's text again.
       */
      readonly type: 'text_delta';
      readonly seq: number;
      readonly step: number;
      readonly attempt: number;
      readonly text: string;
      readonly catchUp?: true | undefined;
    }
  | {
      /** The step's whole reply text, as journaled: what the deltas added up to. */
      readonly type: 'text_completed';
      readonly seq: number;
      readonly step: number;
      readonly text: string;
    }
  | {
      readonly type: 'tool_call';
      readonly seq: number;
      readonly step: number;
      readonly index: number;
      readonly callId: string;
      readonly toolName: string;
      readonly input: unknown;
      readonly effect: ToolEffect;
    }
  | {
      readonly type: 'tool_result';
      readonly seq: number;
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      /** `ok`: the tool's content; `error`: its last failure; `rejected`: a malformed call. */
      readonly outcome: 'ok' | 'error' | 'rejected';
      readonly content?: string | undefined;
      readonly error?: ToolFailure | undefined;
      /** Where the result came from and whether it is trusted. */
      readonly provenance: Provenance;
    }
  | {
      readonly type: 'approval_requested';
      readonly seq: number;
      readonly step: number;
      readonly approvalId: string;
      /** The approver group that decides. */
      readonly group: string;
      readonly expiresAt: number;
      /** What a decision is bound to: this call with exactly these arguments. */
      readonly bound: {
        readonly callId: string;
        readonly index: number;
        readonly toolName: string;
        readonly argsHash: string;
        readonly input: unknown;
      };
    }
  | {
      readonly type: 'approval_decided';
      readonly seq: number;
      readonly step: number;
      readonly approvalId: string;
      readonly callId: string;
      readonly toolName: string;
      readonly decision: 'approved' | 'denied' | 'expired';
      readonly decidedBy: string;
    }
  | {
      readonly type: 'limit_hit';
      readonly seq: number;
      readonly limit: LimitName;
      readonly used: number;
      readonly max: number;
    }
  | { readonly type: 'run_finished'; readonly seq: number; readonly result: RunResult };

/** Every type of {@link RunStreamEvent}. */
export type RunStreamEventType = RunStreamEvent['type'];

/** Whether an event stands for one journal entry (its `seq` is that entry's; never repeated). */
export function isJournaledStreamEvent(event: RunStreamEvent): boolean {
  return event.type !== 'step_started' && event.type !== 'text_delta';
}

type DeltaEvent = Extract<RunStreamEvent, { type: 'text_delta' }>;

/** How one subscriber follows a run. */
export interface FollowOptions {
  /** Deliver journaled events after this sequence number (an SSE `Last-Event-ID`). Default 0. */
  readonly afterSeq?: number | undefined;
  /** Ends the subscription (quietly: the iteration just ends). */
  readonly signal?: AbortSignal | undefined;
  /**
   * How often the journal is read again when nothing was heard (SQLite, or a notification
   * lost). Default 250 ms; on PostgreSQL notifications usually come first.
   */
  readonly pollMs?: number | undefined;
  /**
   * Live text deltas held for a slow consumer before the oldest are coalesced. Default 256.
   * Journaled events are never dropped: they are read from the store when the consumer pulls.
   */
  readonly maxBufferedDeltas?: number | undefined;
}

const DEFAULT_POLL_MS = 250;
const DEFAULT_MAX_BUFFERED = 256;

/** Events that can open a step: the first of them with a new step number starts it. */
const STEP_OPENERS: ReadonlySet<RunEvent['type']> = new Set([
  'context_assembled',
  'step_summarised',
  'model_called',
  'model_failed',
]);

/** Events after which a step's live text is over. */
const TEXT_ENDERS: ReadonlySet<RunEvent['type']> = new Set([
  'model_called',
  'model_failed',
  'run_finished',
  'run_released',
  'run_suspended',
]);

/** One subscriber's buffer of live deltas and its wake-up. */
class Subscriber {
  readonly #max: number;
  readonly #pending: DeltaEvent[] = [];
  #wake: (() => void) | undefined;
  #woken = false;

  constructor(max: number) {
    this.#max = max;
  }

  push(delta: DeltaEvent): void {
    if (this.#pending.length >= this.#max) this.#coalesce();
    this.#pending.push(delta);
    this.wake();
  }

  /**
   * Make room: merge the oldest two adjacent deltas of one reply; when no two are of one reply,
   * drop the oldest (its reply's whole text comes with its journaled `text_completed`).
   */
  #coalesce(): void {
    for (let index = 0; index + 1 < this.#pending.length; index++) {
      const first = this.#pending[index];
      const second = this.#pending[index + 1];
      if (first && second && first.step === second.step && first.attempt === second.attempt) {
        this.#pending.splice(index, 2, { ...first, text: first.text + second.text });
        return;
      }
    }
    this.#pending.shift();
  }

  /** The pending deltas that follow journal entries up to `seq`, in order. */
  take(seq: number): DeltaEvent[] {
    let count = 0;
    while (count < this.#pending.length && (this.#pending[count]?.seq ?? 0) <= seq) count++;
    return this.#pending.splice(0, count);
  }

  wake(): void {
    this.#woken = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Until woken, `ms` pass, or `signal` aborts. */
  async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
    this.#woken = false;
  }
}

interface LiveRun {
  /** The reply under way, for a subscriber that joins mid-message. */
  current: { step: number; attempt: number; afterSeq: number; text: string } | undefined;
  readonly subscribers: Set<Subscriber>;
}

/**
 * This process's live side of run streams: the text of replies under way in runs executing
 * here, and who follows which run. The executor publishes into it and never waits on it.
 */
export class StreamHub {
  readonly #runs = new Map<string, LiveRun>();

  /** A piece of reply text from a run executing here. */
  delta(runId: string, delta: TextDelta): void {
    const run = this.#run(runId);
    const current = run.current;
    if (current?.step === delta.step && current.attempt === delta.attempt)
      current.text += delta.text;
    else
      run.current = {
        step: delta.step,
        attempt: delta.attempt,
        afterSeq: delta.afterSeq,
        text: delta.text,
      };
    const event: DeltaEvent = {
      type: 'text_delta',
      seq: delta.afterSeq,
      step: delta.step,
      attempt: delta.attempt,
      text: delta.text,
    };
    for (const subscriber of run.subscribers) subscriber.push(event);
  }

  /** An event of a run executing here committed: its followers read the journal now. */
  committed(runId: string, event: RunEvent): void {
    const run = this.#runs.get(runId);
    if (!run) return;
    if (TEXT_ENDERS.has(event.type)) run.current = undefined;
    for (const subscriber of run.subscribers) subscriber.wake();
    this.#forget(runId, run);
  }

  /** A run's journal grew somewhere (a notification); `''`: any run's may have. */
  grew(runId: string): void {
    const runs = runId === '' ? [...this.#runs.values()] : [this.#runs.get(runId)];
    for (const run of runs) for (const subscriber of run?.subscribers ?? []) subscriber.wake();
  }

  /** Follow a run's live side; the reply under way, if any, comes first as one catch-up delta. */
  subscribe(runId: string, subscriber: Subscriber): () => void {
    const run = this.#run(runId);
    run.subscribers.add(subscriber);
    const current = run.current;
    if (current && current.text !== '') {
      subscriber.push({
        type: 'text_delta',
        seq: current.afterSeq,
        step: current.step,
        attempt: current.attempt,
        text: current.text,
        catchUp: true,
      });
    }
    return () => {
      run.subscribers.delete(subscriber);
      this.#forget(runId, run);
    };
  }

  /** How many runs it holds anything for (tests: nothing is kept for runs nobody follows). */
  get size(): number {
    return this.#runs.size;
  }

  #run(runId: string): LiveRun {
    let run = this.#runs.get(runId);
    if (!run) {
      run = { current: undefined, subscribers: new Set() };
      this.#runs.set(runId, run);
    }
    return run;
  }

  #forget(runId: string, run: LiveRun): void {
    if (run.subscribers.size === 0 && run.current === undefined) this.#runs.delete(runId);
  }
}

/**
 * Follow one run: its journal from `afterSeq` on (read from the store, so any process's run,
 * across crashes and re-claims), with the live text of replies executing in this process
 * merged in at the journal position they follow. Ends after `run_finished`, or quietly when
 * the signal aborts. A run that does not exist is `not_found` unless `created` says it is
 * being created.
 */
export async function* followRun(
  deps: {
    readonly store: RunJournalStore;
    readonly hub: StreamHub;
    /** Whether an approval's record exists (an `approval_requested` waits for it). */
    readonly approvalExists?: ((approvalId: string) => Promise<boolean>) | undefined;
  },
  runId: string,
  options: FollowOptions & {
    /** The run is being created: an empty journal means "not yet", not "no such run". */
    readonly created?: boolean;
    /** Called before every read; throwing ends the stream with that error. */
    readonly check?: () => void;
  } = {},
): AsyncGenerator<RunStreamEvent, void, undefined> {
  const { store, hub } = deps;
  const afterSeq = options.afterSeq ?? 0;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const signal = options.signal;
  const subscriber = new Subscriber(options.maxBufferedDeltas ?? DEFAULT_MAX_BUFFERED);
  const unsubscribe = hub.subscribe(runId, subscriber);
  const state = emptyRunState();
  let readSeq = 0;
  let lastStep = Number.NEGATIVE_INFINITY;
  /** The highest step whose reply is journaled: its live deltas are stale. */
  let completedStep = Number.NEGATIVE_INFINITY;
  let exists = options.created === true;
  /** Tool inputs by `<step>:<callId>`: an approval binds a call journaled before it. */
  const inputs = new Map<string, unknown>();
  /** Live deltas that follow journal entries up to `seq`, each step opened first. */
  function* deltasUpTo(seq: number): Generator<RunStreamEvent> {
    for (const delta of subscriber.take(seq)) {
      if (delta.step <= completedStep) continue;
      if (delta.step > lastStep) {
        lastStep = delta.step;
        yield { type: 'step_started', seq: delta.seq, step: delta.step };
      }
      yield delta;
    }
  }
  try {
    for (;;) {
      if (signal?.aborted) return;
      options.check?.();
      const entries = await store.readEvents(runId, { afterSeq: readSeq });
      if (!exists) {
        if (entries.length === 0 && !(await store.getRun(runId)))
          throw new KeelError('not_found', `no run ${runId}`);
        exists = true;
      }
      for (const entry of entries) {
        // An approval is announced once it can be decided: its record is written just after
        // the journal entry. Until then the stream holds here (the next commit wakes it).
        if (
          entry.seq > afterSeq &&
          entry.event.type === 'approval_requested' &&
          deps.approvalExists &&
          !(await deps.approvalExists(entry.event.approvalId))
        )
          break;
        readSeq = entry.seq;
        applyEvent(state, entry.event);
        const step = stepOf(entry.event);
        const opens = step !== undefined && STEP_OPENERS.has(entry.event.type) && step > lastStep;
        if (entry.event.type === 'tool_requested')
          inputs.set(`${entry.event.step}:${entry.event.callId}`, entry.event.input);
        const completes = entry.event.type === 'model_called' ? entry.event.step : undefined;
        if (entry.seq <= afterSeq) {
          if (opens) lastStep = step;
          if (completes !== undefined) completedStep = completes;
          continue;
        }
        // Live text that came before this entry, then the entry (which may end that text).
        yield* deltasUpTo(entry.seq - 1);
        if (completes !== undefined) completedStep = completes;
        if (opens) {
          lastStep = step;
          yield { type: 'step_started', seq: entry.seq - 1, step };
        }
        const event = toStreamEvent(runId, entry, state, inputs);
        if (event) yield event;
        if (event?.type === 'run_finished') return;
        if (signal?.aborted) return;
      }
      yield* deltasUpTo(readSeq);
      await subscriber.sleep(pollMs, signal);
    }
  } finally {
    unsubscribe();
  }
}

function stepOf(event: RunEvent): number | undefined {
  return 'step' in event && typeof event.step === 'number' ? event.step : undefined;
}

function toStreamEvent(
  runId: string,
  { seq, event }: StoredEvent,
  state: RunState,
  inputs: ReadonlyMap<string, unknown>,
): RunStreamEvent | undefined {
  switch (event.type) {
    case 'run_started':
      return {
        type: 'run_started',
        seq,
        runId,
        agent: event.agent,
        task: event.task,
        model: event.model,
      };
    case 'model_called': {
      const text = event.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
      return text === '' ? undefined : { type: 'text_completed', seq, step: event.step, text };
    }
    case 'tool_requested':
      return {
        type: 'tool_call',
        seq,
        step: event.step,
        index: event.index,
        callId: event.callId,
        toolName: event.toolName,
        input: event.input,
        effect: event.effect,
      };
    case 'tool_finished':
      return {
        type: 'tool_result',
        seq,
        step: event.step,
        callId: event.callId,
        toolName: event.toolName,
        outcome: 'ok',
        content: event.content,
        provenance: event.provenance,
      };
    case 'tool_failed':
      return event.final
        ? {
            type: 'tool_result',
            seq,
            step: event.step,
            callId: event.callId,
            toolName: event.toolName,
            outcome: 'error',
            error: event.error,
            provenance: event.provenance,
          }
        : undefined;
    case 'tool_rejected':
      return {
        type: 'tool_result',
        seq,
        step: event.step,
        callId: event.callId,
        toolName: event.toolName,
        outcome: 'rejected',
        error: event.error,
        provenance: { trust: 'trusted', source: 'runtime' },
      };
    case 'approval_requested':
      return {
        type: 'approval_requested',
        seq,
        step: event.step,
        approvalId: event.approvalId,
        group: event.approverGroup,
        expiresAt: event.expiresAt,
        bound: {
          callId: event.callId,
          index: event.index,
          toolName: event.toolName,
          argsHash: event.argsHash,
          input: inputs.get(`${event.step}:${event.callId}`),
        },
      };
    case 'approval_decided':
      return {
        type: 'approval_decided',
        seq,
        step: event.step,
        approvalId: event.approvalId,
        callId: event.callId,
        toolName: event.toolName,
        decision: event.decision,
        decidedBy: event.decidedBy,
      };
    case 'limit_hit':
      return { type: 'limit_hit', seq, limit: event.limit, used: event.used, max: event.max };
    case 'run_finished': {
      const result = resultOf(runId, state);
      return result ? { type: 'run_finished', seq, result } : undefined;
    }
    // The journal's bookkeeping and the guard's telemetry: not part of a run's stream.
    case 'run_claimed':
    case 'run_released':
    case 'run_suspended':
    case 'model_failed':
    case 'model_output_rejected':
    case 'tool_started':
    case 'tool_intercepted':
    case 'tool_quarantined':
    case 'cancel_requested':
    case 'context_assembled':
    case 'step_summarised':
    case 'guard_verdict':
    case 'decision_recorded':
    case 'injection_signal':
    case 'action_flagged':
    case 'answer_guarded':
    case 'answer_held':
    case 'intent_planned':
    case 'shadow_suppressed':
    case 'would_need_approval':
      return undefined;
    default:
      return event satisfies never;
  }
}
