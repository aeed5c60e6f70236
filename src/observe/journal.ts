/**
 * How `observe` reads a run's journal. It knows nothing of the parts that write it: an event is
 * plain JSON discriminated on `type`, and the fields read here are the journal's documented
 * fields. Unknown event types are ignored, so old and new journals both read.
 */
export interface JournalEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** One journal entry as the store keeps it. */
export interface JournalEntry {
  readonly seq: number;
  /** Commit time, ms since the epoch. */
  readonly at: number;
  readonly event: JournalEvent;
}

/** The run listing `observe` needs (a `Store` satisfies it). */
export interface ObservedRun {
  readonly id: string;
  readonly agent: string;
  readonly status: string;
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

/** Where `observe` reads journals from (a `Store` satisfies it). */
export interface JournalSource {
  readEvents(runId: string): Promise<readonly JournalEntry[]>;
  listRuns(options?: {
    readonly limit?: number;
    readonly agent?: string;
    readonly statuses?: readonly ('succeeded' | 'failed' | 'stopped' | 'escalated' | 'cancelled')[];
  }): Promise<readonly ObservedRun[]>;
}

export function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}
