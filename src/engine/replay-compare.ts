import { canonicalJson } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';

/** Where a replay first departed from the recorded run. `null` sides mean "no such event". */
export interface ReplayDivergence {
  readonly step: number;
  readonly expected: unknown;
  readonly actual: unknown;
  /** Top-level fields whose values differ (all of them when the event types differ). */
  readonly fields: readonly string[];
}

/** What a replay found: identical to the journal, or the first divergence. */
export interface ReplayReport {
  readonly runId: string;
  readonly identical: boolean;
  readonly divergence: ReplayDivergence | null;
  /** Events compared (bookkeeping such as claims left out). */
  readonly comparedEvents: number;
  /**
   * Set for a run whose secrets were erased (`keel erase`): what could not be compared. A model
   * request's digest covers everything the request carried; from the first step whose journal
   * holds an erased value on (from step 0 when the task held one), the recorded digests cover
   * values now replaced, so `requestHash` is not compared there: `steps` are those whose digest
   * differs. Earlier requests' digests, and everything else (calls, arguments and results as
   * erased, outcomes), are compared as usual.
   */
  readonly erased?:
    | {
        readonly at: number;
        readonly uncompared: readonly ['requestHash'];
        readonly steps: readonly number[];
      }
    | undefined;
}

/** Bookkeeping that differs between any two executions of the same run. */
const UNCOMPARED_EVENTS: ReadonlySet<string> = new Set([
  'run_started',
  'run_claimed',
  'run_released',
  'run_suspended',
]);
/** Measurements, prices and jittered waits: they vary run to run and are not behaviour. */
const UNCOMPARED_FIELDS: ReadonlySet<string> = new Set([
  'latencyMs',
  'retryInMs',
  'costUsd',
  'estimatedInputTokens',
  // Approvals: ids derive from the run id; times and the decider are inputs, not behaviour.
  'approvalId',
  'expiresAt',
  'at',
  'decidedBy',
]);

interface Comparable {
  readonly step: number;
  readonly event: Record<string, unknown>;
}

/**
 * The key of an event a step journals before its model call and journals again when the step
 * is resumed after a crash (the resumed worker prepares the step anew); `undefined` for others.
 */
function reissueKey(event: RunEvent): string | undefined {
  return event.type === 'context_assembled'
    ? `${event.type}:${event.step}:${event.trigger}`
    : undefined;
}

/**
 * A step resumed after a crash journals its pre-call events again: `context_assembled |
 * run_claimed | context_assembled | model_called`. The step is compared as one attempt would
 * have journaled it: each such event where the killed attempt first journaled it, as the
 * resumed attempt (whose request the model answered) last journaled it. A repeat with no claim
 * since the first, or after the step's model call, is behaviour and stays.
 */
function collapseReissues(events: readonly RunEvent[]): RunEvent[] {
  const out: RunEvent[] = [];
  // The step's events not yet followed by its model call: where each sits in `out`, and
  // whether a claim came after it.
  const open = new Map<string, { index: number; claimed: boolean }>();
  for (const event of events) {
    if (event.type === 'run_claimed') for (const entry of open.values()) entry.claimed = true;
    if (event.type === 'model_called') open.clear();
    const key = reissueKey(event);
    if (key === undefined) {
      out.push(event);
      continue;
    }
    const first = open.get(key);
    if (first?.claimed) {
      // The resumed attempt's copy, in the killed attempt's place.
      out[first.index] = event;
      first.claimed = false;
    } else {
      open.set(key, { index: out.length, claimed: false });
      out.push(event);
    }
  }
  return out;
}

function comparable(events: readonly RunEvent[], runId: string): Comparable[] {
  const out: Comparable[] = [];
  let step = 0;
  for (const event of collapseReissues(events)) {
    if (UNCOMPARED_EVENTS.has(event.type)) continue;
    // A re-issue after a crash is the same attempt again, not new behaviour.
    if (event.type === 'tool_started' && event.reissued === true) continue;
    if ('step' in event) step = event.step;
    const copy: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(event)) {
      if (!UNCOMPARED_FIELDS.has(field)) copy[field] = value;
    }
    if (typeof copy.idempotencyKey === 'string') {
      copy.idempotencyKey = copy.idempotencyKey.slice(runId.length);
    }
    // The reader's usage is a measurement of the live call; replay serves its replies only.
    if (event.type === 'tool_quarantined' || event.type === 'intent_planned') {
      delete copy.usage;
      delete copy.attemptUsage;
    }
    if (event.type === 'run_finished') {
      copy.usage = { inputTokens: event.usage.inputTokens, outputTokens: event.usage.outputTokens };
    }
    out.push({ step, event: copy });
  }
  return out;
}

/** Compare a recorded journal with a replayed one; the first difference is the divergence. */
export function compareJournals(
  runId: string,
  recorded: readonly RunEvent[],
  replayed: readonly RunEvent[],
  replayRunId: string,
): ReplayReport {
  const expected = comparable(recorded, runId);
  const actual = comparable(replayed, replayRunId);
  const length = Math.max(expected.length, actual.length);
  const started = recorded.find((event) => event.type === 'run_started');
  const erasedAt = started?.type === 'run_started' ? started.erasedAt : undefined;
  const unhashed: number[] = [];
  const wholeUpTo = erasedAt === undefined ? Infinity : lastWholeStep(recorded);
  const erased = () =>
    erasedAt === undefined
      ? {}
      : { erased: { at: erasedAt, uncompared: ['requestHash'] as const, steps: unhashed } };
  for (let index = 0; index < length; index++) {
    const want = expected[index];
    const got = actual[index];
    if (erasedAt !== undefined && want?.event.type === 'model_called' && want.step > wholeUpTo) {
      // Erased: the recorded digest covered the values now replaced.
      if (got && canonicalJson(want.event.requestHash) !== canonicalJson(got.event.requestHash))
        unhashed.push(want.step);
      delete want.event.requestHash;
      if (got?.event.type === 'model_called') delete got.event.requestHash;
    }
    if (want && got && want.event.type === 'model_called' && !('requestHash' in want.event)) {
      // Journals written before requests were hashed: compare what they have.
      delete got.event.requestHash;
    }
    if (want && got && canonicalJson(want.event) === canonicalJson(got.event)) continue;
    return {
      runId,
      identical: false,
      divergence: {
        step: want?.step ?? got?.step ?? 0,
        expected: want?.event ?? null,
        actual: got?.event ?? null,
        fields: differingFields(want?.event ?? {}, got?.event ?? {}),
      },
      comparedEvents: index,
      ...erased(),
    };
  }
  return { runId, identical: true, divergence: null, comparedEvents: length, ...erased() };
}

function differingFields(
  expected: Record<string, unknown>,
  actual: Record<string, unknown>,
): string[] {
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return keys.filter((key) => canonicalJson(expected[key]) !== canonicalJson(actual[key]));
}

/** What `keel erase` writes in place of a value (see `redactSecrets`). */
const ERASED_MARK = '[redacted';

/**
 * The last step whose model request held no erased value: the step before the first one whose
 * journal holds one (-1 when the task did).
 */
function lastWholeStep(recorded: readonly RunEvent[]): number {
  let first = Infinity;
  for (const event of recorded) {
    if (!JSON.stringify(event).includes(ERASED_MARK)) continue;
    if (event.type === 'run_started') {
      if (event.task.includes(ERASED_MARK)) return -1;
    } else if ('step' in event) first = Math.min(first, event.step);
  }
  // A step's request carries the replies and results of the steps before it.
  return first;
}
