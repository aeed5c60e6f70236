import { KeelError, timerDelay } from '../core/index.js';
import { applyEvent, emptyRunState, type RunEvent } from '../journal/index.js';
import type { RunJournalStore } from '../store/index.js';
import type { TextDelta } from './execution.js';
import { stepOf, toStreamEvent, type RunStreamEvent } from './run-stream-events.js';

export {
  isJournaledStreamEvent,
  type RunStreamEvent,
  type RunStreamEventType,
} from './run-stream-events.js';

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
      const timer = setTimeout(done, timerDelay(ms));
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
