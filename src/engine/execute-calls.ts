import { digest, type Provenance } from '../core/index.js';
import { RECALL_TOOL_NAME, recallProvenance, recallTool } from '../context/index.js';
import type { PendingCall, RunEvent, RunReason, RunState } from '../journal/index.js';
import type { NewAuditEntry } from '../store/index.js';
import {
  executeTool,
  type Tool,
  type ToolCallDecision,
  type ToolFailure,
  type ToolOutcome,
} from '../tools/index.js';
import { idempotencyKey, type Execution, type RunAbort } from './execution.js';
import { neutralShadowResult } from './shadow-route.js';
import type { InterceptedCall, ToolCallRoute } from './tool-interception.js';
import { quarantinedFailure, untrustedResultEvents } from './untrusted-step.js';

const RUNTIME_LABEL: Provenance = { trust: 'trusted', source: 'runtime' };

/**
 * Run the calls a step allowed, concurrently; every call settles before the step moves on or
 * fails, so none is left running unowned. A call that ended the run (a handoff) leaves the
 * others nothing to write.
 */
export async function executeCalls(
  execution: Execution,
  calls: readonly PendingCall[],
): Promise<void> {
  const settled = await Promise.allSettled(calls.map((call) => executeCall(execution, call)));
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed && !execution.journal.state.finished) throw failed.reason;
}

/**
 * One call, exactly once in effect: started attempts are journaled before they run, an attempt
 * started before a crash is issued again with the same idempotency key, and the result (or
 * the typed failure fed back to the model) is committed with the call's audit entries.
 */
async function executeCall(execution: Execution, call: PendingCall): Promise<void> {
  const { agent, run } = execution;
  let tool = agent.tool(call.toolName);
  // `recall` searches this run's store (a replay's copy serves it from the journal instead).
  const recalling = agent.context?.recallTool === true && call.toolName === RECALL_TOOL_NAME;
  if (tool && recalling && !agent.context?.replay) tool = recallTool(run.store.results);
  if (!tool) {
    const message = `tool "${call.toolName}" is no longer defined on this agent`;
    await failCall(
      execution,
      call,
      { type: 'not_found', message },
      RUNTIME_LABEL,
      call.attemptsStarted,
    );
    return;
  }
  // The journal keeps the model's arguments as sent; the tool gets them parsed (zod
  // transforms included) the same way on the first run and after a resume.
  const parsed = tool.input.safeParse(call.input);
  if (!parsed.success) {
    const message = 'arguments no longer match the input schema';
    await failCall(
      execution,
      call,
      { type: 'invalid_input', message },
      RUNTIME_LABEL,
      call.attemptsStarted,
    );
    return;
  }
  const provenance: Provenance = {
    trust: tool.untrustedOutput ? 'untrusted' : 'trusted',
    source: `tool:${tool.name}`,
  };
  const intercepted = {
    runId: run.runId,
    agent: agent.name,
    step: call.step,
    callId: call.callId,
    toolName: tool.name,
    effect: tool.effect,
    input: call.input,
    ...(call.wouldNeedApproval ? { wouldNeedApproval: true } : {}),
  };
  let route = recalling ? undefined : await execution.run.interceptToolCall?.(intercepted);
  if (!recalling && execution.journal.state.shadowOf !== undefined) {
    // A shadow run never takes effect, whatever its runtime's interceptor says.
    route = shadowGuard(intercepted, route);
  }
  if (route && route.type !== 'execute') {
    await settleIntercepted(execution, call, { tool, route, provenance });
    return;
  }
  const startedAt = performance.now();
  const outcome = await runAttempts(execution, call, tool, parsed.data, provenance);
  if (execution.signal.aborted || execution.journal.state.finished) return;
  if (!outcome.ok) {
    await settleFailure(execution, call, tool.name, outcome, provenance);
    return;
  }
  await settleResult(execution, call, {
    tool: tool.name,
    outcome,
    provenance,
    recalling,
    latencyMs: performance.now() - startedAt,
  });
}

/**
 * What a shadow run's call may do at most: run only when it is a `read` the interceptor let
 * run and no human would have had to approve; anything else is suppressed with a neutral result.
 */
function shadowGuard(call: InterceptedCall, route: ToolCallRoute | undefined): ToolCallRoute {
  if (route && route.type !== 'execute') return route;
  if (call.effect === 'read' && route?.type === 'execute' && !call.wouldNeedApproval) return route;
  const reason = call.wouldNeedApproval
    ? 'would need approval'
    : `${call.effect} never runs in a shadow run`;
  return { type: 'suppress', reason, result: neutralShadowResult(call, reason) };
}

/** The call's attempts through the tool policies, each started attempt journaled first. */
function runAttempts(
  execution: Execution,
  call: PendingCall,
  tool: Tool,
  input: unknown,
  provenance: Provenance,
): Promise<ToolOutcome> {
  const { journal, signal, run } = execution;
  const base = { step: call.step, callId: call.callId, toolName: call.toolName };
  // After a crash: re-issue a started attempt that has no outcome; after a recorded
  // retryable failure, go on with the next attempt.
  const firstAttempt =
    call.attemptsStarted === 0
      ? 1
      : call.attemptsFailed >= call.attemptsStarted
        ? call.attemptsStarted + 1
        : call.attemptsStarted;
  const key = idempotencyKey(run.runId, call.step, call.index);
  const decisionKey = `${call.step}:${call.callId}`;
  return executeTool({
    tool,
    input,
    context: {
      idempotencyKey: key,
      runId: run.runId,
      callId: call.callId,
      journal: {
        earlier: () => execution.decisionsByCall.get(decisionKey) ?? [],
        async append(entries) {
          if (entries.length === 0) return;
          await journal.append(
            entries.map((entry) => ({
              type: 'decision_recorded',
              ...base,
              decisionId: entry.decisionId,
              entry: entry.entry,
            })),
          );
          execution.decisionsByCall.set(decisionKey, [
            ...(execution.decisionsByCall.get(decisionKey) ?? []),
            ...entries,
          ]);
        },
      },
    },
    signal,
    firstAttempt,
    policies: run.toolPolicies,
    // Audit entries commit with the journal events of the attempts they record.
    audit: { step: call.step, decision: allowedBy(call), deferred: true },
    hooks: {
      async beforeAttempt(attempt) {
        if (attempt === firstAttempt && execution.issuedHere.has(call.callId)) return;
        execution.issuedHere.add(call.callId);
        const reissued = attempt <= call.attemptsStarted;
        await journal.append([
          {
            type: 'tool_started',
            ...base,
            idempotencyKey: key,
            attempt,
            ...(reissued ? { reissued } : {}),
          },
        ]);
      },
      async afterFailedAttempt(attempt, error: ToolFailure, willRetry, retryInMs, audit) {
        if (!willRetry || signal.aborted) return;
        await journal.append(
          [{ type: 'tool_failed', ...base, error, provenance, attempt, final: false, retryInMs }],
          undefined,
          audit,
        );
      },
    },
  });
}

/** The call's final failure, fed back to the model; or the tool's handoff, which ends the run. */
async function settleFailure(
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
async function settleIntercepted(
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
async function settleResult(
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
  const untrusted =
    provenance.trust === 'untrusted'
      ? await untrustedResultEvents({
          agent,
          step: call.step,
          callId: call.callId,
          toolName: tool,
          content,
          signal,
        })
      : [];
  if (signal.aborted || journal.state.finished) return;
  await journal.append(
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
    undefined,
    outcome.audit,
  );
}

/** The call's final failure: fed back to the model as its result. */
function failCall(
  execution: Execution,
  call: PendingCall,
  error: ToolFailure,
  provenance: Provenance,
  attempt: number,
  audit?: readonly NewAuditEntry[],
  before: readonly RunEvent[] = [],
): Promise<void> {
  const base = { step: call.step, callId: call.callId, toolName: call.toolName };
  return execution.journal.append(
    [
      ...before,
      { type: 'tool_failed', ...base, error, provenance, attempt, final: true },
      ...quarantinedFailure(execution.agent, base, error, provenance),
    ],
    undefined,
    audit,
  );
}

/**
 * What allowed the call, for its audit rows: a human's approval, else the guard's (and the
 * gates' policies') verdicts, else only the agent's tool scope.
 */
function allowedBy(call: PendingCall): ToolCallDecision {
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
