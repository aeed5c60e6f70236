import type { z } from 'zod';
import { canonicalJson, KeelError, sleep, systemClock, type Clock } from '../core/index.js';
import type { DecisionRecord, Store } from '../store/index.js';
import type { DecisionEvent } from '../journal/index.js';

/**
 * Settle a decision waiting for review with a human's value. The value must be one of the
 * record's `choices` when it has them. Throws `not_found` for an unknown id, `conflict` when
 * the decision is not (or no longer) under review, `invalid_input` for a value not offered.
 *
 * ```ts
 * const record = await resolveReview({ store, id, value: 'billing', decidedBy: 'ana' });
 * ```
 */
export async function resolveReview({
  store,
  id,
  value,
  decidedBy,
  clock = systemClock,
}: {
  readonly store: Store;
  readonly id: string;
  readonly value: unknown;
  readonly decidedBy: string;
  readonly clock?: Clock;
}): Promise<DecisionRecord> {
  const current = await store.decisions.get(id);
  if (!current) throw new KeelError('not_found', `no decision ${id}`);
  if (current.status !== 'review') {
    throw new KeelError('conflict', `decision ${id} is not waiting for review (${current.status})`);
  }
  if (current.choices && !current.choices.some((choice) => sameValue(choice, value))) {
    throw new KeelError(
      'invalid_input',
      `decision ${id}: ${JSON.stringify(value)} is not one of ${current.choices.map((choice) => JSON.stringify(choice)).join(', ')}`,
    );
  }
  const at = clock.now();
  const event: DecisionEvent = { type: 'decision_resolved', value, decidedBy, at };
  const resolved = await store.decisions.resolve({ id, value, decidedBy, at, event });
  if (!resolved) throw new KeelError('conflict', `decision ${id} was decided by someone else`);
  return resolved;
}

/**
 * Wait until a decision under review is resolved (from any process) and return the chosen
 * value, parsed with the schema. A value that no longer parses is refused (`invalid_input`).
 *
 * ```ts
 * const route = await waitForReview({ store, id: decision.id, schema: z.enum(['a', 'b']) });
 * ```
 */
export async function waitForReview<Schema extends z.ZodType>({
  store,
  id,
  schema,
  signal,
  pollMs = 200,
}: {
  readonly store: Store;
  readonly id: string;
  readonly schema: Schema;
  readonly signal?: AbortSignal | undefined;
  readonly pollMs?: number;
}): Promise<{ value: z.infer<Schema>; record: DecisionRecord }> {
  for (;;) {
    const record = await store.decisions.get(id);
    if (!record) throw new KeelError('not_found', `no decision ${id}`);
    if (record.status !== 'review') {
      const parsed = schema.safeParse(record.value);
      if (!parsed.success) {
        throw new KeelError('invalid_input', `decision ${id}: the chosen value does not parse`);
      }
      return { value: parsed.data, record };
    }
    signal?.throwIfAborted();
    await sleep(pollMs);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** A decision under review as a reviewer needs it: the model's pick, the options, the fallback. */
export interface ReviewItem {
  readonly id: string;
  readonly kind: string;
  readonly instructions: string;
  readonly input: unknown;
  /** The value the model picked, how sure it said it was and why; `null` if it gave none. */
  readonly proposed: {
    readonly value: unknown;
    readonly confidence: number;
    readonly reasoning: string | null;
  } | null;
  /** The values a reviewer may choose from (the schema's options); `null`: any schema value. */
  readonly alternatives: readonly unknown[] | null;
  /** The value that applies until someone chooses. */
  readonly fallback: unknown;
  readonly minConfidence: number | null;
  /** Why the decision waits for a human. */
  readonly reason: string | null;
  readonly runId: string | null;
  readonly createdAt: number;
}

/**
 * A decision record as a review item, read from its journal: the model's pick with its
 * confidence and reasoning (the last `decision_made`), the schema's options, the fallback
 * standing in (the record's value for records kept before the review entry named it).
 *
 * ```ts
 * const items = (await store.decisions.list({ status: 'review' })).map(reviewItem);
 * ```
 */
export function reviewItem(record: DecisionRecord): ReviewItem {
  const events = record.events.filter(
    (event): event is Record<string, unknown> => typeof event === 'object' && event !== null,
  );
  const made = events.findLast((event) => event.type === 'decision_made');
  const requested = events.findLast((event) => event.type === 'decision_review_requested');
  const confidence = made?.confidence;
  return {
    id: record.id,
    kind: record.kind,
    instructions: record.instructions,
    input: record.input,
    proposed:
      made && typeof confidence === 'number'
        ? {
            value: made.value ?? null,
            confidence,
            reasoning: typeof made.reasoning === 'string' ? made.reasoning : null,
          }
        : null,
    alternatives: record.choices,
    fallback: requested && 'fallback' in requested ? requested.fallback : record.value,
    minConfidence: typeof requested?.minConfidence === 'number' ? requested.minConfidence : null,
    reason: record.reason,
    runId: record.runId,
    createdAt: record.createdAt,
  };
}
