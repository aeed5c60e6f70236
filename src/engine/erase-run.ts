import { canonicalJson, digest } from '../core/index.js';
import {
  RUN_EVENT_TYPES,
  journalRedaction,
  type KnownSecrets,
  type RunEvent,
} from '../journal/index.js';
import type { Store } from '../store/index.js';

/** What `eraseRun` changed: rows rewritten per table. */
export interface EraseReport {
  readonly events: number;
  readonly approvals: number;
  readonly results: number;
}

/**
 * Answer a data-protection request for a finished run: replace its secrets wherever the store
 * keeps them (task, output, journal events, approvals, stored results), in one transaction.
 * Secrets are what every view redacts (see `journalRedaction`): the tools' `secretFields` and
 * the runtime's redactors as the run recorded them (or as `known` gives them), the values those
 * fields held wherever they recur, and the built-in card number and national id patterns.
 * Placeholders are the same for the same value, so the journal stays consistent: a replay
 * compares everything but the model requests' digests, which covered the erased values (it
 * says so). A tool result rewritten gets the digest of its new content, and `run_started` the
 * time of the erasure (`erasedAt`). The audit log holds only salted digests, so it is left
 * alone and still verifies. `not_found` for an unknown run, `conflict` for one not finished.
 *
 * ```ts
 * const report = await eraseRun(store, runId);
 * ```
 */
export async function eraseRun(
  store: Store,
  runId: string,
  { known, now = Date.now() }: { readonly known?: KnownSecrets; readonly now?: number } = {},
): Promise<EraseReport> {
  const events = (await store.readEvents(runId)).map((entry) => entry.event);
  const redaction = journalRedaction(events, known);
  const erased = (event: RunEvent): RunEvent => {
    const copy = redaction.event(event);
    return copy.type === 'tool_finished' &&
      event.type === 'tool_finished' &&
      copy.content !== event.content
      ? { ...copy, contentHash: digest(copy.content) }
      : copy;
  };
  // Marked erased only when a secret was there to erase.
  const changes = events.some((event) => canonicalJson(erased(event)) !== canonicalJson(event));
  return store.retention.eraseRun(runId, (value) => {
    if (!isEvent(value)) return redaction.value(value);
    const copy = erased(value);
    return copy.type === 'run_started' && changes ? { ...copy, erasedAt: now } : copy;
  });
}

function isEvent(value: unknown): value is RunEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (RUN_EVENT_TYPES as readonly string[]).includes(String((value as { type?: unknown }).type))
  );
}
