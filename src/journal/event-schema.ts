import { KeelError } from '../core/index.js';
import type { RunEvent, RunEventType } from './run-events.js';

/**
 * The journal's format version, stored with every event. A change to an event's shape ships
 * as a new version (and a reader for the old one), never as an edit: old journals stay
 * readable and replayable.
 */
export const JOURNAL_SCHEMA_VERSION = 1;

// Keyed by every member of the union: a type added to RunEvent and not here fails to compile.
const EVENT_TYPES: Readonly<Record<RunEventType, true>> = {
  run_started: true,
  run_claimed: true,
  run_released: true,
  model_called: true,
  model_failed: true,
  tool_requested: true,
  tool_rejected: true,
  tool_started: true,
  tool_finished: true,
  tool_failed: true,
  model_output_rejected: true,
  limit_hit: true,
  cancel_requested: true,
  approval_requested: true,
  run_suspended: true,
  approval_decided: true,
  context_assembled: true,
  step_summarised: true,
  guard_verdict: true,
  decision_recorded: true,
  injection_signal: true,
  tool_quarantined: true,
  intent_planned: true,
  action_flagged: true,
  answer_guarded: true,
  answer_held: true,
  tool_intercepted: true,
  shadow_suppressed: true,
  would_need_approval: true,
  run_finished: true,
};

/** Every event type of the current format. Closed: a type outside it is not a Keel event. */
export const RUN_EVENT_TYPES: readonly RunEventType[] = Object.freeze(
  Object.keys(EVENT_TYPES) as RunEventType[],
);

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
