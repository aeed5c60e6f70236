import type { JournalEvent, JournalSource } from './journal.js';
import { spansFromJournal, type SpanOptions } from './journal-spans.js';
import type { SpanExporter } from './otlp-exporter.js';

/**
 * Something fed each committed journal event of the runs a runtime executes. `onEvent` must
 * return at once and never throw: its work runs in the background, off the run's path.
 */
export interface RunObserver {
  onEvent(runId: string, event: JournalEvent, journal: JournalSource): void;
  /** Wait, at most `timeoutMs`, for background work to settle (a runtime's `close` calls it). */
  flush?(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/**
 * Export each run's spans when it finishes: the journal is read back (so a run resumed by
 * another worker is traced whole) and its spans handed to the exporter's queue.
 *
 * ```ts
 * const exporter = otlpExporterFromEnv();
 * const runtime = createRuntime({ store, agents, observers: exporter ? [traceExport({ exporter })] : [] });
 * ```
 */
export function traceExport({
  exporter,
  spans = {},
}: {
  readonly exporter: SpanExporter;
  readonly spans?: SpanOptions;
}): RunObserver {
  const pending = new Set<Promise<void>>();
  return {
    onEvent(runId, event, journal) {
      if (event.type !== 'run_finished') return;
      const work = Promise.resolve()
        .then(() => journal.readEvents(runId))
        .then((entries) => {
          exporter.export(spansFromJournal(runId, entries, spans));
        })
        .catch(() => undefined)
        .finally(() => pending.delete(work));
      pending.add(work);
    },
    async flush(options) {
      await Promise.allSettled([...pending]);
      await exporter.flush(options);
    },
  };
}
