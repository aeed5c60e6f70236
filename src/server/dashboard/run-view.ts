import { foldRun, waitedMs, type RunEvent, type RunState } from '../../journal/index.js';
import {
  ATTR,
  spanTree,
  spansFromJournal,
  withAlerts,
  type Alert,
  type SpanNode,
} from '../../observe/index.js';
import type { RunRecord, StoredEvent } from '../../store/index.js';

/** One limit of a run: how much of it the run used. */
export interface LimitUse {
  readonly name: string;
  readonly used: number;
  readonly max: number;
  readonly unit: 'count' | 'tokens' | 'usd' | 'ms';
}

/** Something the guard, the gate or a human said about one tool call. */
export interface CallMark {
  readonly tone: 'good' | 'warn' | 'bad' | 'muted';
  readonly text: string;
  /** What it is about: the call (its arguments) or its result (the content it brought in). */
  readonly on: 'call' | 'result';
}

/** A span placed on the run's time axis, in tree order. */
export interface WaterfallRow {
  readonly span: SpanNode;
  readonly depth: number;
  /** Start and width as percentages of the whole run. */
  readonly left: number;
  readonly width: number;
}

export interface RunView {
  readonly state: RunState;
  readonly limits: readonly LimitUse[];
  readonly marks: ReadonlyMap<string, readonly CallMark[]>;
  readonly waterfall: readonly WaterfallRow[];
  readonly totalMs: number;
}

/** What the run page shows, derived from the run's record and its journal. */
export function runView(
  record: RunRecord,
  entries: readonly StoredEvent[],
  alerts: readonly Alert[],
  now: number,
): RunView {
  const events = entries.map((entry) => entry.event);
  const state = foldRun(events);
  return {
    state,
    limits: limitsUsed(record, state, entries.at(-1)?.at ?? now, now),
    marks: callMarks(events),
    ...waterfall(record.id, entries, alerts),
  };
}

function limitsUsed(record: RunRecord, state: RunState, lastAt: number, now: number): LimitUse[] {
  const limits = state.limits;
  if (!limits) return [];
  const end = record.finishedAt ?? (record.status === 'running' ? now : lastAt);
  const identical = Math.max(0, ...state.callCounts.values());
  return [
    { name: 'iterations', used: state.steps, max: limits.maxIterations, unit: 'count' },
    {
      name: 'tokens',
      used: state.usage.inputTokens + state.usage.outputTokens,
      max: limits.maxTokens,
      unit: 'tokens',
    },
    { name: 'cost', used: state.usage.costUsd, max: limits.maxCostUsd, unit: 'usd' },
    {
      name: 'time',
      used: Math.max(0, end - state.startedAt - waitedMs(state, end)),
      max: limits.timeoutMs,
      unit: 'ms',
    },
    { name: 'identical calls', used: identical, max: limits.maxIdenticalCalls, unit: 'count' },
    {
      name: 'steps without progress',
      used: state.stepsWithoutProgress,
      max: limits.maxStepsWithoutProgress,
      unit: 'count',
    },
  ];
}

/** The guard's, the gate's and the approvers' words on each call, by call id. */
function callMarks(events: readonly RunEvent[]): Map<string, CallMark[]> {
  const marks = new Map<string, CallMark[]>();
  const add = (callId: string, mark: Omit<CallMark, 'on'>, on: CallMark['on'] = 'call'): void => {
    marks.set(callId, [...(marks.get(callId) ?? []), { ...mark, on }]);
  };
  for (const event of events) {
    if (event.type === 'guard_verdict') {
      add(event.callId, {
        tone: event.verdict === 'allow' ? 'muted' : event.verdict === 'deny' ? 'bad' : 'warn',
        text: `guard ${event.verdict} (${event.policy}: ${event.rule})`,
      });
    } else if (event.type === 'approval_requested') {
      add(event.callId, {
        tone: 'warn',
        text: `held for ${event.approverGroup} (${event.approvalId})`,
      });
    } else if (event.type === 'approval_decided') {
      add(event.callId, {
        tone: event.decision === 'approved' ? 'good' : 'bad',
        text: `${event.decision} by ${event.decidedBy}${event.editedInput === undefined ? '' : ' with edited arguments'}`,
      });
    } else if (event.type === 'injection_signal') {
      add(
        event.callId,
        {
          tone: event.score >= event.threshold ? 'bad' : 'warn',
          text: `injection signal ${event.score} of ${event.threshold} (${event.matches.join(', ')})`,
        },
        'result',
      );
    } else if (event.type === 'action_flagged') {
      add(event.callId, {
        tone: 'bad',
        text: `flagged: ${event.flags.map((flag) => flag.kind).join(', ')}`,
      });
    } else if (event.type === 'tool_quarantined') {
      add(
        event.callId,
        { tone: 'warn', text: 'quarantined: the model saw a reference only' },
        'result',
      );
    } else if (event.type === 'tool_rejected') {
      add(event.callId, {
        tone: 'bad',
        text: `rejected: ${event.error.type}${event.outOfScope ? ' (out of scope)' : ''}`,
      });
    }
  }
  return marks;
}

function waterfall(
  runId: string,
  entries: readonly StoredEvent[],
  alerts: readonly Alert[],
): { waterfall: WaterfallRow[]; totalMs: number } {
  const roots = spanTree(
    withAlerts(spansFromJournal(runId, entries, { captureContent: true }), alerts),
  );
  const origin = Math.min(...roots.map((root) => root.startMs));
  const end = Math.max(...roots.map((root) => root.endMs));
  const totalMs = Math.max(1, end - origin);
  const rows: WaterfallRow[] = [];
  const walk = (span: SpanNode, depth: number): void => {
    const left = ((span.startMs - origin) / totalMs) * 100;
    rows.push({
      span,
      depth,
      left: round(left),
      width: round(
        Math.max(0.4, Math.min(100 - left, ((span.endMs - span.startMs) / totalMs) * 100)),
      ),
    });
    for (const child of span.children) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  return { waterfall: rows, totalMs: roots.length === 0 ? 0 : totalMs };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** A span's tokens and cost, where it has them. */
export function spanUsage(span: SpanNode): {
  input: number | undefined;
  output: number | undefined;
  cost: number | undefined;
} {
  const number = (key: string): number | undefined => {
    const value = span.attributes[key];
    return typeof value === 'number' ? value : undefined;
  };
  return {
    input: number(ATTR.usageInputTokens),
    output: number(ATTR.usageOutputTokens),
    cost: number(ATTR.costUsd),
  };
}
