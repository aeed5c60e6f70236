import type { JournalEvent, JournalSource } from './journal.js';
import type { ObservedCall, ObservedRequest } from './chat-input.js';
import type { RunObserver } from './run-observer.js';

/**
 * One event callback that feeds every observer (and `onEvent`, when given) each committed event.
 * An observer's fault is its own: it is swallowed, and the run goes on.
 *
 * ```ts
 * const onEvent = observeEvents(store, undefined, [traceExport({ exporter })]);
 * ```
 */
export function observeEvents<Event extends JournalEvent>(
  journal: JournalSource,
  onEvent: ((runId: string, event: Event) => void) | undefined,
  observers: readonly RunObserver[],
): ((runId: string, event: Event) => void) | undefined {
  if (observers.length === 0) return onEvent;
  return function observe(runId, event) {
    onEvent?.(runId, event);
    for (const observer of observers) {
      try {
        observer.onEvent(runId, event, journal);
      } catch {
        // An observer's fault is its own: the run goes on.
      }
    }
  };
}

/**
 * One callback that hands every observer that wants them (trace export with content capture)
 * each model request as it is sent, or `undefined` when none does.
 */
export function observeModelRequests(
  observers: readonly RunObserver[],
): ((runId: string, call: ObservedCall, request: ObservedRequest) => void) | undefined {
  const watching = observers.filter((observer) => observer.onModelRequest !== undefined);
  if (watching.length === 0) return undefined;
  return function observeRequest(runId, call, request) {
    for (const observer of watching) {
      try {
        observer.onModelRequest?.(runId, call, request);
      } catch {
        // As for events: an observer's fault is its own.
      }
    }
  };
}
