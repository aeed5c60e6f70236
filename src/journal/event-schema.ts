import { KeelError } from '../core/index.js';
import type { RunEvent, RunEventType } from './run-events.js';

/**
 * The journal's format version, stored with every event. A change to an event's shape ships
 * as a new version (and a reader for the old one), never as an edit: old journals stay
 * readable and replayable.
 */
export const JOURNAL_SCHEMA_VERSION = 1;

/** Every event type of version 1. Closed: a type outside it is not a Keel journal event. */
export const RUN_EVENT_TYPES = [
  'run_started',
  'run_claimed',
  'run_released',
  'model_called',
  'model_failed',
  'tool_requested',
  'tool_rejected',
  'tool_started',
  'tool_finished',
  'tool_failed',
  'model_output_rejected',
  'limit_hit',
  'cancel_requested',
  'approval_requested',
  'run_suspended',
  'approval_decided',
  'context_assembled',
  'step_summarised',
  'guard_verdict',
  'decision_recorded',
  'injection_signal',
  'tool_quarantined',
  'action_flagged',
  'run_finished',
] as const satisfies readonly RunEventType[];

// Every member of the union is listed above (a compile error names the one missing).
type Unlisted = Exclude<RunEventType, (typeof RUN_EVENT_TYPES)[number]>;
const everyTypeListed: Unlisted extends never ? true : Unlisted = true;
void everyTypeListed;

const KNOWN_TYPES: ReadonlySet<string> = new Set(RUN_EVENT_TYPES);

/** An event about to be appended: its place in the run's journal and when it happened. */
export interface NewEvent {
  readonly seq: number;
  readonly at: number;
  readonly event: RunEvent;
}

/** A journal entry as the store holds it. */
export interface StoredEvent extends NewEvent {
  readonly runId: string;
  readonly schemaVersion: number;
}

/**
 * An event as read back from storage: checked against the format it was written in. A store
 * holding a newer format, or a type this version does not know, is a fault (`store_corrupt`),
 * never an event silently misread.
 *
 * ```ts
 * const event = readEvent(JSON.parse(row.event), row.schema_version);
 * ```
 */
export function readEvent(value: unknown, schemaVersion: number): RunEvent {
  if (schemaVersion > JOURNAL_SCHEMA_VERSION) {
    throw new KeelError(
      'store_corrupt',
      `journal event written in format ${schemaVersion}; this Keel reads formats up to ${JOURNAL_SCHEMA_VERSION} (upgrade Keel)`,
    );
  }
  if (!isRunEvent(value)) {
    const type =
      typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : value;
    throw new KeelError('store_corrupt', `unknown journal event type ${JSON.stringify(type)}`);
  }
  return value;
}

function isRunEvent(value: unknown): value is RunEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    KNOWN_TYPES.has(String((value as { type?: unknown }).type))
  );
}
