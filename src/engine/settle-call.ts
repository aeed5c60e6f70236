import { digest, type Provenance } from '../core/index.js';
import { recallProvenance } from '../context/index.js';
import type { PendingCall, RunEvent, RunReason, RunState } from '../journal/index.js';
import type { NewAuditEntry } from '../store/index.js';
import type { Tool, ToolCallDecision, ToolFailure, ToolOutcome } from '../tools/index.js';
import type { Execution, RunAbort } from './execution.js';
import type { ToolCallRoute } from './tool-interception.js';
import { quarantinedFailure, readerBudget, untrustedResultEvents } from './untrusted-step.js';

/** The call's final failure, fed back to the model; or the tool's handoff, which ends the run. */
export async function settleFailure(
  execution: Execution,
  call: PendingCall,
  toolName: string,
  outcome: Extract<ToolOutcome, { ok: false }>,
  provenance: Provenance,
): Promise<void> {
  if (outcome.handoff === undefined) {
    await failCall(execution, call, outcome.failure, provenance, outcome.attempts, outcome.audit);
    return;
  }
  // The tool's handoff: the run ends escalated, its journal holding all gathered so far.
  const { journal, run } = execution;
  const failed: RunEvent = {
    type: 'tool_failed',
    step: call.step,
    callId: call.callId,
    toolName: call.toolName,
    error: outcome.failure,
    provenance,
    attempt: outcome.attempts,
    final: true,
  };
  const reason: RunReason = {
    type: 'escalation',
    message: outcome.handoff,
    toolName,
    error: outcome.failure,
  };
  await journal.finish('escalated', reason, [failed], gatheredSoFar(journal.state), outcome.audit);
  run.controller.abort({ kind: 'ended' } satisfies RunAbort);
}

/**
 * A call the runtime's interceptor answered or suppressed: journaled as such with the result
 * the model is given, which goes through the same untrusted-content handling as a real one.
 */
export async function settleIntercepted(
  execution: Execution,
  call: PendingCall,
  {
    tool,
    route,
    provenance,
  }: { tool: Tool; route: Exclude<ToolCallRoute, { type: 'execute' }>; provenance: Provenance },
): Promise<void> {
  const intercepted: RunEvent = {
    type: 'tool_intercepted',
    step: call.step,
    callId: call.callId,
    toolName: call.toolName,
    effect: tool.effect,
    input: call.input,
    action: route.type === 'serve' ? 'served' : 'suppressed',
    detail: route.type === 'serve' ? route.source : route.reason,
  };
  const before: RunEvent[] = [intercepted];
  if (route.type === 'suppress' && execution.journal.state.shadowOf !== undefined) {
    before.push({
      type: 'shadow_suppressed',
      step: call.step,
      callId: call.callId,
      toolName: call.toolName,
      effect: tool.effect,
      input: call.input,
      reason: route.reason,
    });
  }
  if (!route.result.ok) {
    await failCall(execution, call, route.result.error, provenance, 1, undefined, before);
    return;
  }
  await settleResult(
    execution,
    call,
    {
      tool: tool.name,
      outcome: { ok: true, value: route.result.value, attempts: 1 },
      provenance,
      recalling: false,
      latencyMs: 0,
    },
    before,
  );
}

/**
 * The call's result, committed with its audit entries and, for untrusted content, the
 * detector's signal and the quarantine: all before the model sees it.
 */
export async function settleResult(
  execution: Execution,
  call: PendingCall,
  {
    tool,
    outcome,
    provenance,
    recalling,
    latencyMs,
  }: {
    tool: string;
    outcome: Extract<ToolOutcome, { ok: true }>;
    provenance: Provenance;
    /** The recall tool's text keeps the weakest label of what it recalled. */
    recalling: boolean;
    latencyMs: number;
  },
  before: readonly RunEvent[] = [],
): Promise<void> {
  const { agent, journal, signal } = execution;
  // A fallback is marked to the model as well as in the journal.
  const content = resultText(
    outcome.degraded
      ? { degraded: true, error: outcome.degraded, result: outcome.value }
      : outcome.value,
  );
  if (content === undefined) {
    const message = `${tool} returned a result that is not JSON`;
    await failCall(
      execution,
      call,
      { type: 'internal', message },
      provenance,
      outcome.attempts,
      outcome.audit,
      before,
    );
    return;
  }
  const reader = agent.untrusted.reader.model;
  const budget = reader ? readerBudget(execution, reader) : undefined;
  try {
    const untrusted =
      provenance.trust === 'untrusted'
        ? await untrustedResultEvents({
            agent,
            step: call.step,
            callId: call.callId,
            toolName: tool,
            content,
            signal,
            budget,
          })
        : [];
    if (signal.aborted || journal.state.finished) return;
    await commitResult(
      execution,
      call.step,
      [
        ...before,
        {
          type: 'tool_finished',
          step: call.step,
          callId: call.callId,
          toolName: call.toolName,
          content,
          contentHash: digest(content),
          provenance: recalling ? recallProvenance(content) : provenance,
          attempts: outcome.attempts,
          latencyMs: Math.round(latencyMs * 1000) / 1000,
          ...(outcome.degraded ? { degraded: outcome.degraded } : {}),
          ...(outcome.cache ? { cache: outcome.cache } : {}),
        },
        ...untrusted,
      ],
      outcome.audit,
    );
  } finally {
    // Journaled now (the run's totals have it), or never will be by this execution.
    budget?.settled();
  }
}

/** The call's final failure: fed back to the model as its result. */
export function failCall(
  execution: Execution,
  call: PendingCall,
  error: ToolFailure,
  provenance: Provenance,
  attempt: number,
  audit?: readonly NewAuditEntry[],
  before: readonly RunEvent[] = [],
): Promise<void> {
  const base = { step: call.step, callId: call.callId, toolName: call.toolName };
  return commitResult(
    execution,
    call.step,
    [
      ...before,
      { type: 'tool_failed', ...base, error, provenance, attempt, final: true },
      ...quarantinedFailure(execution.agent, base, error, provenance),
    ],
    audit,
  );
}

/**
 * A call's outcome, committed before the model sees it — or, for a step of repeatable reads,
 * started committing while the next model call goes out (a crash before it is durable repeats
 * the step; the next write of the run waits for it).
 */
function commitResult(
  execution: Execution,
  step: number,
  events: readonly RunEvent[],
  audit: readonly NewAuditEntry[] | undefined,
): Promise<void> {
  if (execution.repeatableStep === step) {
    execution.journal.appendAhead(events, audit);
    return Promise.resolve();
  }
  return execution.journal.append(events, undefined, audit);
}

/**
 * What allowed the call, for its audit rows: a human's approval, else the guard's (and the
 * gates' policies') verdicts, else only the agent's tool scope.
 */
export function allowedBy(call: PendingCall): ToolCallDecision {
  const policy = call.verdicts ? { verdicts: call.verdicts } : null;
  if (call.approvedBy) return { allowedBy: 'approval', approval: call.approvedBy, policy };
  return { allowedBy: call.verdicts ? 'policy' : 'agent_tool_scope', policy };
}

/** What a run escalated by a handoff hands over: its task and every tool result so far. */
function gatheredSoFar(state: RunState): string {
  const results = state.messages.flatMap((message) =>
    message.parts.flatMap((part) =>
      part.type === 'tool_result'
        ? [{ toolName: part.toolName, isError: part.isError, content: part.content }]
        : [],
    ),
  );
  return JSON.stringify({ task: state.task, toolResults: results });
}

/** A tool's result as the model sees it; `undefined` when it cannot be JSON. */
function resultText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return undefined;
  }
}
