import { chatInput, inputKey, type ObservedCall, type ObservedRequest } from './chat-input.js';
import type { JournalEvent, JournalSource } from './journal.js';
import {
  DEFAULT_MAX_CONTENT_CHARS,
  spansFromJournal,
  type ChatInput,
  type SpanOptions,
} from './journal-spans.js';
import type { SpanExporter } from './otlp-exporter.js';
import { spanIdOf } from './trace-span.js';
import { journalRedaction } from '../journal/index.js';

/**
 * Something fed each committed journal event of the runs a runtime executes. `onEvent` must
 * return at once and never throw: its work runs in the background, off the run's path.
 */
export interface RunObserver {
  onEvent(runId: string, event: JournalEvent, journal: JournalSource): void;
  /**
   * Each model request just before it is sent, as it is sent (after context assembly): the
   * journal keeps what a call answered, not what it was asked. Same rules as `onEvent`.
   */
  onModelRequest?(runId: string, call: ObservedCall, request: ObservedRequest): void;
  /** Wait, at most `timeoutMs`, for background work to settle (a runtime's `close` calls it). */
  flush?(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/** Events after which a run in progress exports the spans it has closed so far. */
export const DEFAULT_PARTIAL_EXPORT_EVENTS: readonly string[] = ['run_released', 'run_suspended'];

/** Runs in progress whose exported spans are remembered, at most. */
const MAX_TRACKED_RUNS = 10_000;
/** Characters of captured model inputs held for spans not yet exported, at most. */
const MAX_HELD_INPUT_CHARS = 64 * 1024 * 1024;

/**
 * Export each run's spans when it finishes: the journal is read back (so a run resumed by
 * another worker is traced whole) and its spans handed to the exporter's queue. After any of
 * `partialExportOn` (a run handed back, or paused waiting for someone), the spans closed so
 * far go out at once; the rest follow when the run finishes, each span once per process.
 * Capturing content, each chat span also carries what its call was sent (held from the
 * request until the span is exported; a call made by a worker that died before handing the
 * run back goes out without it). Attribute values go out with the run's secrets redacted, as
 * `keel show` shows them: the tools' secret fields and the values they held, the runtime's
 * redactors, card numbers and national ids.
 *
 * ```ts
 * const exporter = otlpExporterFromEnv();
 * const runtime = createRuntime({ store, agents, observers: exporter ? [traceExport({ exporter })] : [] });
 * ```
 */
export function traceExport({
  exporter,
  spans = {},
  partialExportOn = DEFAULT_PARTIAL_EXPORT_EVENTS,
}: {
  readonly exporter: SpanExporter;
  readonly spans?: SpanOptions;
  readonly partialExportOn?: readonly string[];
}): RunObserver {
  const pending = new Set<Promise<void>>();
  /** Span ids already exported for runs still in progress. */
  const exportedByRun = new Map<string, Set<string>>();
  const partial = new Set(partialExportOn);
  // One export per run at a time, in event order: a partial export never races the final one.
  const queues = new Map<string, Promise<void>>();
  /** Captured model inputs of spans not yet exported, by run and span key. */
  const inputs = new Map<string, Map<string, ChatInput>>();
  let heldChars = 0;
  const sizeOf = (input: ChatInput): number => input.messages.length + (input.system?.length ?? 0);
  const release = (runId: string, keep: (key: string) => boolean): void => {
    const held = inputs.get(runId);
    if (!held) return;
    for (const [key, input] of held) {
      if (keep(key)) continue;
      held.delete(key);
      heldChars -= sizeOf(input);
    }
    if (held.size === 0) inputs.delete(runId);
  };
  const maxChars = spans.maxContentChars ?? DEFAULT_MAX_CONTENT_CHARS;
  const capture =
    spans.captureContent === true
      ? {
          onModelRequest(runId: string, call: ObservedCall, request: ObservedRequest): void {
            const key = inputKey(call);
            release(runId, (held) => held !== key);
            const input = chatInput(request, maxChars);
            if (heldChars + sizeOf(input) > MAX_HELD_INPUT_CHARS) return;
            const held = inputs.get(runId) ?? new Map<string, ChatInput>();
            if (!inputs.has(runId) && inputs.size >= MAX_TRACKED_RUNS) return;
            held.set(key, input);
            inputs.set(runId, held);
            heldChars += sizeOf(input);
          },
        }
      : {};
  return {
    ...capture,
    onEvent(runId, event, journal) {
      const finished = event.type === 'run_finished';
      if (!finished && !partial.has(event.type)) return;
      const previous = queues.get(runId) ?? Promise.resolve();
      const work = previous
        .then(() => journal.readEvents(runId))
        .then((entries) => {
          // Secrets leave as the views show them: redacted (see `journalRedaction`).
          const redaction = journalRedaction(entries.map((entry) => entry.event));
          const derived = spansFromJournal(runId, entries, {
            ...spans,
            closedOnly: !finished,
            inputs: inputs.get(runId),
          }).map((span) => redaction.value(span));
          const exported = exportedByRun.get(runId) ?? new Set<string>();
          const fresh = derived.filter((span) => !exported.has(span.spanId));
          if (finished) exportedByRun.delete(runId);
          else if (exportedByRun.has(runId) || exportedByRun.size < MAX_TRACKED_RUNS) {
            for (const span of fresh) exported.add(span.spanId);
            exportedByRun.set(runId, exported);
          }
          const sent = new Set(fresh.map((span) => span.spanId));
          release(runId, (key) => !finished && !sent.has(spanIdOf(runId, key)));
          exporter.export(fresh);
        })
        .catch(() => undefined)
        .finally(() => {
          pending.delete(work);
          if (queues.get(runId) === work) queues.delete(runId);
        });
      queues.set(runId, work);
      pending.add(work);
    },
    async flush(options) {
      await Promise.allSettled([...pending]);
      await exporter.flush(options);
    },
  };
}
