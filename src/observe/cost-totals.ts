import { num, record, text, type JournalEntry } from './journal.js';

/** Tokens and cost of one agent and model on one UTC day. */
export interface CostLine {
  readonly key: string;
  readonly runs: number;
  readonly modelCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Sum over calls with a known price. */
  readonly costUsd: number;
  /** Calls whose price was unknown (their cost is not in `costUsd`). */
  readonly unpricedCalls: number;
}

/** Calls, errors and time of one tool. */
export interface ToolLine {
  readonly key: string;
  readonly calls: number;
  readonly errors: number;
  readonly totalLatencyMs: number;
}

/** Tokens and cost per agent, model and day, and calls, errors and time per tool. */
export interface CostTotals {
  readonly runs: number;
  readonly total: CostLine;
  readonly byAgent: readonly CostLine[];
  readonly byModel: readonly CostLine[];
  /** UTC day (YYYY-MM-DD) of each model call. */
  readonly byDay: readonly CostLine[];
  readonly byTool: readonly ToolLine[];
}

interface MutableLine {
  key: string;
  runs: Set<string>;
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  unpricedCalls: number;
}

/**
 * Totals of tokens and cost per agent, model, UTC day and tool over the given runs' journals.
 * Cost is the journal's own figure per call (priced when the call was made), never recomputed.
 *
 * ```ts
 * const totals = costTotals([{ runId, entries: await store.readEvents(runId) }]);
 * ```
 */
export function costTotals(
  runs: readonly { readonly runId: string; readonly entries: readonly JournalEntry[] }[],
  {
    shadows = false,
  }: {
    /** Count shadow runs too (they are production's cost only when asked for). */
    readonly shadows?: boolean;
  } = {},
): CostTotals {
  const total = newLine('all');
  const agents = new Map<string, MutableLine>();
  const models = new Map<string, MutableLine>();
  const days = new Map<string, MutableLine>();
  const tools = new Map<
    string,
    { key: string; calls: number; errors: number; totalLatencyMs: number }
  >();
  const line = (map: Map<string, MutableLine>, key: string): MutableLine => {
    let found = map.get(key);
    if (!found) map.set(key, (found = newLine(key)));
    return found;
  };
  const tool = (key: string) => {
    let found = tools.get(key);
    if (!found) tools.set(key, (found = { key, calls: 0, errors: 0, totalLatencyMs: 0 }));
    return found;
  };

  const counted = shadows
    ? runs
    : runs.filter(
        ({ entries }) =>
          !entries.some(
            (entry) => entry.event.type === 'run_started' && entry.event.shadowOf !== undefined,
          ),
      );
  for (const { runId, entries } of counted) {
    let agent = 'unknown';
    let model = 'unknown';
    for (const { at, event } of entries) {
      switch (event.type) {
        case 'run_started': {
          agent = text(event.agent) ?? agent;
          const started = record(event.model);
          model = `${text(started.provider) ?? '?'}:${text(started.modelId) ?? '?'}`;
          break;
        }
        case 'model_called': {
          const usage = record(event.usage);
          const call = {
            inputTokens: num(usage.inputTokens) ?? 0,
            outputTokens: num(usage.outputTokens) ?? 0,
            costUsd: num(event.costUsd),
          };
          const day = new Date(at).toISOString().slice(0, 10);
          for (const target of [total, line(agents, agent), line(models, model), line(days, day)]) {
            add(target, runId, call);
          }
          break;
        }
        case 'tool_quarantined':
        case 'intent_planned': {
          // The reader's and the planner's calls are the run's spending too; an event journaled
          // before they were counted (no cost recorded) stays out, as the run's totals left it.
          if (!('costUsd' in event) || event.usage === undefined || event.usage === null) break;
          const usage = record(event.usage);
          const call = {
            inputTokens: num(usage.inputTokens) ?? 0,
            outputTokens: num(usage.outputTokens) ?? 0,
            costUsd: num(event.costUsd),
          };
          const side = event.type === 'tool_quarantined' ? 'quarantined reader' : 'planner';
          const day = new Date(at).toISOString().slice(0, 10);
          for (const target of [total, line(agents, agent), line(models, side), line(days, day)]) {
            add(target, runId, call);
          }
          break;
        }
        case 'tool_finished':
          tool(text(event.toolName) ?? '?').calls += 1;
          tool(text(event.toolName) ?? '?').totalLatencyMs += num(event.latencyMs) ?? 0;
          break;
        case 'tool_failed':
          if (event.final === true) {
            tool(text(event.toolName) ?? '?').calls += 1;
            tool(text(event.toolName) ?? '?').errors += 1;
          }
          break;
        case 'tool_rejected':
          tool(text(event.toolName) ?? '?').calls += 1;
          tool(text(event.toolName) ?? '?').errors += 1;
          break;
      }
    }
  }
  const byCost = (a: CostLine, b: CostLine): number =>
    b.costUsd - a.costUsd || a.key.localeCompare(b.key);
  return {
    runs: counted.length,
    total: freeze(total),
    byAgent: [...agents.values()].map(freeze).sort(byCost),
    byModel: [...models.values()].map(freeze).sort(byCost),
    byDay: [...days.values()].map(freeze).sort((a, b) => a.key.localeCompare(b.key)),
    byTool: [...tools.values()].sort((a, b) => b.calls - a.calls || a.key.localeCompare(b.key)),
  };
}

function newLine(key: string): MutableLine {
  return {
    key,
    runs: new Set(),
    modelCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    unpricedCalls: 0,
  };
}

function add(
  line: MutableLine,
  runId: string,
  call: { inputTokens: number; outputTokens: number; costUsd: number | undefined },
): void {
  line.runs.add(runId);
  line.modelCalls += 1;
  line.inputTokens += call.inputTokens;
  line.outputTokens += call.outputTokens;
  if (call.costUsd === undefined) line.unpricedCalls += 1;
  else line.costUsd += call.costUsd;
}

function freeze(line: MutableLine): CostLine {
  return {
    key: line.key,
    runs: line.runs.size,
    modelCalls: line.modelCalls,
    inputTokens: line.inputTokens,
    outputTokens: line.outputTokens,
    costUsd: Math.round(line.costUsd * 1e9) / 1e9,
    unpricedCalls: line.unpricedCalls,
  };
}
