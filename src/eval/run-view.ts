import type {
  DecisionEvent,
  RunEvent,
  RunReason,
  RunStatus,
  ToolEffect,
} from '../journal/index.js';

/** One journal entry with the time it was committed, as an evaluation keeps it. */
export interface JournalEntry {
  readonly at: number;
  readonly event: RunEvent;
}

/** What became of one tool call the model asked for. */
export type ToolCallFate =
  /** The tool ran (its result or failure came from the tool). */
  | 'executed'
  /** A fixture (or a recorded result) answered it; the tool did not run. */
  | 'served'
  /** Kept from running: a side effect with no fixture. */
  | 'suppressed'
  /** Malformed or outside the agent's set. */
  | 'rejected'
  /** Refused by the guard or a human. */
  | 'denied'
  /** Never settled (the run ended first, or it waits for a human). */
  | 'pending';

/** One tool call the model asked for, and what became of it. */
export interface ToolCallView {
  readonly step: number;
  readonly callId: string;
  readonly toolName: string;
  readonly input: unknown;
  readonly effect: ToolEffect | undefined;
  readonly fate: ToolCallFate;
  /** The result the model was given (tool output, fixture, or the failure's message). */
  readonly result: string | undefined;
  readonly isError: boolean;
  readonly flags: readonly string[];
}

/** A decision made during the run, from its journal entries. */
export interface DecisionView {
  readonly decisionId: string;
  readonly toolName: string;
  readonly value: unknown;
  readonly confidence: number | undefined;
  readonly reviewRequested: boolean;
  readonly fellBack: boolean;
}

/**
 * A run as assertions read it: derived from its journal alone, so a stored run can be judged
 * again without executing anything.
 */
export interface RunView {
  readonly journal: readonly JournalEntry[];
  readonly events: readonly RunEvent[];
  readonly task: string;
  readonly agent: string;
  readonly status: RunStatus | undefined;
  readonly reason: RunReason | undefined;
  readonly output: string;
  readonly steps: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  /** From the first to the last journal entry. */
  readonly latencyMs: number;
  readonly calls: readonly ToolCallView[];
  readonly decisions: readonly DecisionView[];
  readonly approvals: readonly Extract<RunEvent, { type: 'approval_requested' }>[];
  readonly verdicts: readonly Extract<RunEvent, { type: 'guard_verdict' }>[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Read a run's journal into the view assertions use.
 *
 * ```ts
 * const view = runView(await store.readEvents(runId));
 * view.calls.map((call) => call.toolName);
 * ```
 */
export function runView(journal: readonly JournalEntry[]): RunView {
  const events = journal.map((entry) => entry.event);
  const calls = new Map<string, Mutable<ToolCallView>>();
  const intercepted = new Map<string, 'served' | 'suppressed'>();
  const decisions = new Map<string, Mutable<DecisionView>>();
  let task = '';
  let agent = '';
  let finished: Extract<RunEvent, { type: 'run_finished' }> | undefined;
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  let steps = 0;
  const key = (step: number, callId: string): string => `${step}:${callId}`;
  for (const event of events) {
    switch (event.type) {
      case 'run_started':
        task = event.task;
        agent = event.agent;
        break;
      case 'model_called':
        steps = Math.max(steps, event.step + 1);
        inputTokens += event.usage.inputTokens;
        outputTokens += event.usage.outputTokens;
        costUsd += event.costUsd ?? 0;
        break;
      case 'tool_requested':
        calls.set(key(event.step, event.callId), {
          step: event.step,
          callId: event.callId,
          toolName: event.toolName,
          input: event.input,
          effect: event.effect,
          fate: 'pending',
          result: undefined,
          isError: false,
          flags: [],
        });
        break;
      case 'tool_rejected': {
        const call = calls.get(key(event.step, event.callId));
        if (call)
          Object.assign(call, { fate: 'rejected', result: event.error.message, isError: true });
        break;
      }
      case 'tool_intercepted':
        intercepted.set(key(event.step, event.callId), event.action);
        break;
      case 'tool_finished': {
        const call = calls.get(key(event.step, event.callId));
        const fate = intercepted.get(key(event.step, event.callId)) ?? 'executed';
        if (call) Object.assign(call, { fate, result: event.content, isError: false });
        break;
      }
      case 'tool_failed': {
        if (!event.final) break;
        const call = calls.get(key(event.step, event.callId));
        const fate = intercepted.get(key(event.step, event.callId)) ?? 'executed';
        if (call)
          Object.assign(call, {
            fate: call.fate === 'denied' ? 'denied' : fate,
            result: `${event.error.type}: ${event.error.message}`,
            isError: true,
          });
        break;
      }
      case 'guard_verdict': {
        const call = calls.get(key(event.step, event.callId));
        if (call && event.verdict === 'deny') call.fate = 'denied';
        break;
      }
      case 'approval_decided': {
        const call = calls.get(key(event.step, event.callId));
        if (call && event.decision !== 'approved') call.fate = 'denied';
        break;
      }
      case 'action_flagged': {
        const call = calls.get(key(event.step, event.callId));
        if (call) call.flags = [...call.flags, ...event.flags.map((flag) => flag.kind)];
        break;
      }
      case 'decision_recorded':
        recordDecision(decisions, event.decisionId, event.toolName, event.entry);
        break;
      case 'step_summarised':
        inputTokens += event.usage?.inputTokens ?? 0;
        outputTokens += event.usage?.outputTokens ?? 0;
        break;
      case 'run_finished':
        finished = event;
        break;
      case 'run_claimed':
      case 'run_released':
      case 'run_suspended':
      case 'model_failed':
      case 'model_output_rejected':
      case 'tool_started':
      case 'limit_hit':
      case 'cancel_requested':
      case 'approval_requested':
      case 'context_assembled':
      case 'injection_signal':
      case 'tool_quarantined':
      case 'intent_planned':
      case 'answer_held':
      case 'answer_guarded':
      case 'shadow_suppressed':
      case 'would_need_approval':
        break;
      default:
        event satisfies never;
    }
  }
  const first = journal[0]?.at ?? 0;
  const last = journal.at(-1)?.at ?? first;
  return {
    journal,
    events,
    task,
    agent,
    status: finished?.status,
    reason: finished?.reason,
    output: finished?.output ?? '',
    steps: finished?.steps ?? steps,
    inputTokens: finished?.usage.inputTokens ?? inputTokens,
    outputTokens: finished?.usage.outputTokens ?? outputTokens,
    costUsd: finished?.usage.costUsd ?? costUsd,
    latencyMs: last - first,
    calls: [...calls.values()],
    decisions: [...decisions.values()],
    approvals: events.filter(
      (event): event is Extract<RunEvent, { type: 'approval_requested' }> =>
        event.type === 'approval_requested',
    ),
    verdicts: events.filter(
      (event): event is Extract<RunEvent, { type: 'guard_verdict' }> =>
        event.type === 'guard_verdict',
    ),
  };
}

function recordDecision(
  decisions: Map<string, Mutable<DecisionView>>,
  decisionId: string,
  toolName: string,
  entry: DecisionEvent,
): void {
  let decision = decisions.get(decisionId);
  if (!decision) {
    decision = {
      decisionId,
      toolName,
      value: undefined,
      confidence: undefined,
      reviewRequested: false,
      fellBack: false,
    };
    decisions.set(decisionId, decision);
  }
  switch (entry.type) {
    case 'decision_made':
      decision.value = entry.value;
      decision.confidence = entry.confidence;
      break;
    case 'decision_cache_hit':
      decision.value = entry.value;
      decision.confidence = entry.confidence;
      break;
    case 'decision_review_requested':
      decision.reviewRequested = true;
      decision.confidence = entry.confidence;
      break;
    case 'decision_fallback':
      decision.fellBack = true;
      if (entry.confidence > 0) decision.confidence = entry.confidence;
      break;
    case 'decision_resolved':
      decision.value = entry.value;
      break;
    case 'decision_started':
    case 'decision_attempt':
    case 'decision_vote':
      break;
    default:
      entry satisfies never;
  }
}
