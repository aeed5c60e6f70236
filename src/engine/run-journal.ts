import type { Clock } from '../core/index.js';
import {
  addUsage,
  applyEvent,
  foldRun,
  type InDoubtCall,
  type LimitReached,
  type NewEvent,
  type RunEvent,
  type RunReason,
  type RunState,
  type RunStatus,
  type StoredEvent,
  type UsageTotals,
} from '../journal/index.js';
import type {
  JournalWrite,
  NewAuditEntry,
  RunFinish,
  RunJournalStore,
  WriteGuard,
} from '../store/index.js';

/**
 * One run's journal as its writer sees it: the folded state and the next sequence number,
 * kept in step with what the store committed. Every event goes through here, so the state
 * applied is exactly the state stored, and a run ends the same way from any path (the
 * executor, a limit, a cancel of a queued run).
 *
 * ```ts
 * const journal = await RunJournal.open({ store, clock, runId, guard: { status: 'queued' } });
 * await journal.finish('cancelled', { type: 'cancelled', by: 'user' }, [{ type: 'cancel_requested', by: 'user' }]);
 * ```
 */
export class RunJournal {
  readonly runId: string;
  readonly state: RunState;
  readonly #store: RunJournalStore;
  readonly #clock: Clock;
  readonly #guard: WriteGuard;
  readonly #onEvent: ((runId: string, event: RunEvent) => void) | undefined;
  #seq: number;
  /** Events applied to `state` but not yet committed: they go into the next commit. */
  #deferred: { entries: NewEvent[]; events: RunEvent[] } | undefined;
  /** A commit started by `appendAhead` and not yet known durable (or failed). */
  #ahead: Promise<void> | undefined;

  private constructor(options: OpenRunJournal, stored: readonly StoredEvent[]) {
    this.runId = options.runId;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#guard = options.guard;
    this.#onEvent = options.onEvent;
    this.state = foldRun(stored.map((entry) => entry.event));
    this.#seq = stored.at(-1)?.seq ?? 0;
    if (options.ahead) {
      // Its failure is thrown by the first write (or `durable`), not left unhandled meanwhile.
      options.ahead.catch(() => undefined);
      this.#ahead = options.ahead;
    }
  }

  /** Fold the run's journal (read from the store unless given) into a writer. */
  static async open(options: OpenRunJournal): Promise<RunJournal> {
    const stored = options.journal ?? (await options.store.readEvents(options.runId));
    return new RunJournal(options, stored);
  }

  /** The events as stored so far (their count is the last sequence number). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Commit events (and the run's finish, and audit entries recording them) under the guard,
   * then apply them to the state. Durable before visible: nothing acts on an event before
   * this resolves. `lease_lost` when the guard no longer holds.
   */
  async append(
    events: readonly RunEvent[],
    finish?: Omit<RunFinish, 'at'>,
    audit?: readonly NewAuditEntry[],
  ): Promise<void> {
    // After the commits started ahead are durable (and only if none failed), with nothing
    // awaited between numbering and the store's queue, so writes reach it in sequence order.
    if (this.#ahead) await this.durable();
    const at = this.#clock.now();
    // Numbered now, not after the commit: calls of one step append concurrently.
    const entries = this.#entries(events, at);
    this.#seq += entries.length;
    const { write, deferred } = this.#write(entries, finish ? { ...finish, at } : undefined, audit);
    await this.#store.append(write);
    this.#announce(deferred);
    this.#apply(events);
  }

  /**
   * Apply events to the state now and commit them with the next write, for a step whose only
   * effects until then are repeatable (reads): a crash before that write repeats the step
   * (nothing it did needs undoing) and saves a commit — an fsync — per step. Observers hear
   * of them only once they are committed.
   */
  defer(events: readonly RunEvent[]): void {
    const entries = this.#entries(events, this.#clock.now());
    this.#seq += entries.length;
    for (const event of events) applyEvent(this.state, event);
    this.#deferred = this.#deferred
      ? {
          entries: [...this.#deferred.entries, ...entries],
          events: [...this.#deferred.events, ...events],
        }
      : { entries, events: [...events] };
  }

  /**
   * Apply events to the state now and start their commit (with the deferred events) without
   * waiting for it, for a step whose effects so far are all repeatable reads: the next model
   * call goes out while the disk syncs. A crash before the commit is durable repeats the step,
   * as it would with `defer`. Every later write of this journal waits for it first (and fails
   * as it did), observers hear of its events once it is durable, and `ahead` lets a caller
   * hold back what must not be seen before it.
   */
  appendAhead(events: readonly RunEvent[], audit?: readonly NewAuditEntry[]): void {
    const entries = this.#entries(events, this.#clock.now());
    this.#seq += entries.length;
    const { write, deferred } = this.#write(entries, undefined, audit);
    for (const event of events) applyEvent(this.state, event);
    const previous = this.#ahead;
    const commit = (async () => {
      if (previous) await previous;
      await this.#store.append(write);
      this.#announce(deferred);
      this.#announce(events);
    })();
    // Its failure is thrown by the next write (or `durable`), not left unhandled meanwhile.
    commit.catch(() => undefined);
    this.#ahead = commit;
  }

  /** The commit `appendAhead` started, while it is not yet durable. */
  get ahead(): Promise<void> | undefined {
    return this.#ahead;
  }

  /**
   * Wait until no commit started ahead is pending (those started meanwhile included); throws
   * as one failed.
   */
  async durable(): Promise<void> {
    for (let ahead = this.#ahead; ahead; ahead = this.#ahead) {
      await ahead;
      if (this.#ahead === ahead) this.#ahead = undefined;
    }
  }

  /** Commit the deferred events, if any, on their own, after any commit started ahead. */
  async flush(): Promise<void> {
    await this.durable();
    if (this.#deferred) await this.append([]);
  }

  /** Commit events through `write` (e.g. together with parking the run); apply them if it did. */
  async commitWith(
    events: readonly RunEvent[],
    write: (entries: NewEvent[]) => Promise<boolean>,
  ): Promise<boolean> {
    await this.flush();
    const entries = this.#entries(events, this.#clock.now());
    if (!(await write(entries))) return false;
    this.#seq += entries.length;
    this.#apply(events);
    return true;
  }

  /** End the run: `events`, then `run_finished` with the totals they bring, in one commit. */
  async finish(
    status: RunStatus,
    reason: RunReason,
    events: readonly RunEvent[],
    output: string | null = null,
    audit?: readonly NewAuditEntry[],
  ): Promise<void> {
    const usage = usageAfter(this.state.usage, events);
    const steps = this.state.steps + events.filter((event) => event.type === 'model_called').length;
    const finished: RunEvent = { type: 'run_finished', status, reason, output, usage, steps };
    const approvalsRequested =
      this.state.approvalsRequested || events.some((event) => event.type === 'approval_requested');
    await this.append(
      [...events, finished],
      {
        status,
        reason,
        output,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        costUsd: usage.costUsd,
        steps,
        approvalsRequested,
      },
      audit,
    );
  }

  /** End the run `stopped` on a limit: `events`, `limit_hit`, then `run_finished`. */
  stop(
    { limit, used, max }: LimitReached,
    events: readonly RunEvent[] = [],
    inDoubt: readonly InDoubtCall[] = [],
  ): Promise<void> {
    const reason: RunReason = {
      type: 'limit',
      limit,
      used,
      max,
      ...(inDoubt.length > 0 ? { inDoubt } : {}),
    };
    return this.finish('stopped', reason, [...events, { type: 'limit_hit', limit, used, max }]);
  }

  #entries(events: readonly RunEvent[], at: number): NewEvent[] {
    return events.map((event, offset) => ({ seq: this.#seq + 1 + offset, at, event }));
  }

  #apply(events: readonly RunEvent[]): void {
    for (const event of events) {
      applyEvent(this.state, event);
      this.#onEvent?.(this.runId, event);
    }
  }

  /** The store write of `entries`, the events deferred so far (taken now) before them. */
  #write(
    entries: NewEvent[],
    finish: RunFinish | undefined,
    audit: readonly NewAuditEntry[] | undefined,
  ): { write: JournalWrite; deferred: readonly RunEvent[] } {
    const deferred = this.#deferred;
    this.#deferred = undefined;
    const events = deferred ? [...deferred.entries, ...entries] : entries;
    return {
      write: { runId: this.runId, guard: this.#guard, events, finish, audit },
      deferred: deferred?.events ?? [],
    };
  }

  #announce(events: readonly RunEvent[]): void {
    if (!this.#onEvent) return;
    for (const event of events) this.#onEvent(this.runId, event);
  }
}

export interface OpenRunJournal {
  readonly store: RunJournalStore;
  readonly clock: Clock;
  readonly runId: string;
  /** Who may write: the lease holder with its claim, or anyone while the run is queued. */
  readonly guard: WriteGuard;
  /** The run's journal when the caller already has it (saves a read). */
  readonly journal?: readonly StoredEvent[] | undefined;
  /**
   * A commit of these events started before the journal opened and not yet known durable (the
   * run's creation): it is the journal's first commit ahead, which every write waits for and
   * fails as.
   */
  readonly ahead?: Promise<void> | undefined;
  /** Called after each event commits. Must not throw; never awaited. */
  readonly onEvent?: ((runId: string, event: RunEvent) => void) | undefined;
}

/** Usage totals once `events` are applied. */
export function usageAfter(usage: UsageTotals, events: readonly RunEvent[]): UsageTotals {
  return events.reduce(
    (total, event) => (event.type === 'model_called' ? addUsage(total, event) : total),
    usage,
  );
}
