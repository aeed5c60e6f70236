import type { Provenance } from '../core/index.js';
import { RECALL_TOOL_NAME, recallTool } from '../context/index.js';
import type { PendingCall } from '../journal/index.js';
import { executeTool, type Tool, type ToolFailure, type ToolOutcome } from '../tools/index.js';
import { idempotencyKey, type Execution } from './execution.js';
import { neutralShadowResult } from './shadow-route.js';
import type { InterceptedCall, ToolCallRoute } from './tool-interception.js';
import {
  allowedBy,
  failCall,
  settleFailure,
  settleIntercepted,
  settleResult,
} from './settle-call.js';

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
