import { canonicalJson } from '../core/index.js';
import { num, record, text, type JournalEntry } from './journal.js';

/** What one finished run measured, from its journal. */
export interface RunMetrics {
  readonly runId: string;
  readonly agent: string;
  /** The agent's version (`run_started.version`; absent in older journals): baselines are per version. */
  readonly version?: string | undefined;
  /** Set on a shadow run: the production run it repeats (left out of baselines and alerts). */
  readonly shadowOf?: string | undefined;
  readonly status: string;
  readonly finishedAt: number;
  readonly tokens: number;
  readonly outputTokens: number;
  /** `null` when a call's price was unknown. */
  readonly costUsd: number | null;
  readonly durationMs: number;
  /** Model steps. */
  readonly iterations: number;
  readonly toolCalls: number;
  readonly toolErrors: number;
  /** `toolErrors / toolCalls`, 0 without tool calls. */
  readonly toolErrorRate: number;
  /** The largest output of any single model call, in tokens. */
  readonly maxCallOutputTokens: number;
  /** The most times one tool was asked with the same arguments. */
  readonly maxIdenticalToolCalls: number;
  /** The longest run of tool calls that ended in an error, back to back. */
  readonly maxConsecutiveToolErrors: number;
  /** Calls the output monitor flagged (`action_flagged`), and the kinds of flag raised. */
  readonly flaggedActions?: number | undefined;
  readonly flagKinds?: readonly string[] | undefined;
  /** Idempotency keys of calls whose effect is unknown (ended `in_doubt`, or cut off by a stop). */
  readonly inDoubtKeys?: readonly string[] | undefined;
}

/**
 * A finished run's metrics, or `undefined` while it has not finished.
 *
 * ```ts
 * const metrics = runMetrics(runId, await store.readEvents(runId));
 * ```
 */
export function runMetrics(
  runId: string,
  entries: readonly JournalEntry[],
): RunMetrics | undefined {
  let agent = 'unknown';
  let version: string | undefined;
  let shadowOf: string | undefined;
  let startedAt = entries[0]?.at ?? 0;
  let maxCallOutputTokens = 0;
  let toolCalls = 0;
  let toolErrors = 0;
  let streak = 0;
  let maxStreak = 0;
  const identical = new Map<string, number>();
  let flaggedActions = 0;
  const flagKinds = new Set<string>();
  const outcome = (failed: boolean): void => {
    toolCalls += 1;
    if (failed) {
      toolErrors += 1;
      streak += 1;
      maxStreak = Math.max(maxStreak, streak);
    } else streak = 0;
  };
  for (const { at, event } of entries) {
    switch (event.type) {
      case 'run_started':
        agent = text(event.agent) ?? agent;
        version = text(event.version);
        shadowOf = text(event.shadowOf);
        startedAt = num(event.startedAt) ?? at;
        break;
      case 'model_called':
        maxCallOutputTokens = Math.max(
          maxCallOutputTokens,
          num(record(event.usage).outputTokens) ?? 0,
        );
        break;
      case 'tool_requested': {
        const key = `${text(event.toolName) ?? ''}:${canonicalJson(event.input ?? null)}`;
        identical.set(key, (identical.get(key) ?? 0) + 1);
        break;
      }
      case 'tool_finished':
        outcome(false);
        break;
      case 'tool_failed':
        if (event.final === true) outcome(true);
        break;
      case 'tool_rejected':
        outcome(true);
        break;
      case 'action_flagged':
        flaggedActions += 1;
        if (Array.isArray(event.flags))
          for (const flag of event.flags) flagKinds.add(text(record(flag).kind) ?? 'unknown');
        break;
      case 'run_finished': {
        const usage = record(event.usage);
        const inputTokens = num(usage.inputTokens) ?? 0;
        const outputTokens = num(usage.outputTokens) ?? 0;
        const reason = record(event.reason);
        const doubtful = reason.type === 'in_doubt' ? reason.calls : reason.inDoubt;
        const inDoubtKeys = Array.isArray(doubtful)
          ? doubtful.map((call) => text(record(call).idempotencyKey) ?? 'unknown')
          : [];
        return {
          runId,
          agent,
          ...(version === undefined ? {} : { version }),
          ...(shadowOf === undefined ? {} : { shadowOf }),
          status: text(event.status) ?? 'failed',
          finishedAt: at,
          tokens: inputTokens + outputTokens,
          outputTokens,
          costUsd: usage.costKnown === true ? (num(usage.costUsd) ?? 0) : null,
          durationMs: Math.max(0, at - startedAt),
          iterations: num(event.steps) ?? 0,
          toolCalls,
          toolErrors,
          toolErrorRate: toolCalls === 0 ? 0 : toolErrors / toolCalls,
          maxCallOutputTokens,
          maxIdenticalToolCalls: Math.max(0, ...identical.values()),
          maxConsecutiveToolErrors: maxStreak,
          ...(flaggedActions > 0 ? { flaggedActions, flagKinds: [...flagKinds].sort() } : {}),
          ...(inDoubtKeys.length > 0 ? { inDoubtKeys } : {}),
        };
      }
    }
  }
  return undefined;
}
