import { digest, type Provenance } from '../core/index.js';
import { RECALL_TOOL_NAME, recallProvenance, recallTool } from '../context/index.js';
import type { PendingCall, RunEvent, RunReason, RunState } from '../journal/index.js';
import type { NewAuditEntry } from '../store/index.js';
import { executeTool, type ToolCallDecision, type ToolFailure } from '../tools/index.js';
import { idempotencyKey, type Execution, type RunAbort } from './execution.js';
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
  const { agent, journal, signal, run } = execution;
  const base = { step: call.step, callId: call.callId, toolName: call.toolName };
  /** The call's final failure: fed back to the model as its result. */
  const fail = (
    error: ToolFailure,
    provenance: Provenance,
    attempt: number,
    audit?: readonly NewAuditEntry[],
  ) =>
    journal.append(
      [
        { type: 'tool_failed', ...base, error, provenance, attempt, final: true },
        ...quarantinedFailure(agent, base, error, provenance),
      ],
      undefined,
      audit,
    );

  let tool = agent.tool(call.toolName);
  // `recall` searches this run's store (a replay's copy serves it from the journal instead).
  const recalling = agent.context?.recallTool === true && call.toolName === RECALL_TOOL_NAME;
  if (tool && recalling && !agent.context?.replay) tool = recallTool(run.store.results);
  if (!tool) {
    const message = `tool "${call.toolName}" is no longer defined on this agent`;
    await fail({ type: 'not_found', message }, RUNTIME_LABEL, call.attemptsStarted);
    return;
  }
  // The journal keeps the model's arguments as sent; the tool gets them parsed (zod
  // transforms included) the same way on the first run and after a resume.
  const parsed = tool.input.safeParse(call.input);
  if (!parsed.success) {
    const message = 'arguments no longer match the input schema';
    await fail({ type: 'invalid_input', message }, RUNTIME_LABEL, call.attemptsStarted);
    return;
  }
  const provenance: Provenance = {
    trust: tool.untrustedOutput ? 'untrusted' : 'trusted',
    source: `tool:${tool.name}`,
  };
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
  const startedAt = performance.now();
  const outcome = await executeTool({
    tool,
    input: parsed.data,
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
  if (signal.aborted || journal.state.finished) return;
  if (!outcome.ok) {
    if (outcome.handoff === undefined) {
      await fail(outcome.failure, provenance, outcome.attempts, outcome.audit);
      return;
    }
    // The tool's handoff: the run ends escalated, its journal holding all gathered so far.
    const failed: RunEvent = {
      type: 'tool_failed',
      ...base,
      error: outcome.failure,
      provenance,
      attempt: outcome.attempts,
      final: true,
    };
    const reason: RunReason = {
      type: 'escalation',
      message: outcome.handoff,
      toolName: tool.name,
      error: outcome.failure,
    };
    await journal.finish(
      'escalated',
      reason,
      [failed],
      gatheredSoFar(journal.state),
      outcome.audit,
    );
    run.controller.abort({ kind: 'ended' } satisfies RunAbort);
    return;
  }
  // A fallback is marked to the model as well as in the journal.
  const content = resultText(
    outcome.degraded
      ? { degraded: true, error: outcome.degraded, result: outcome.value }
      : outcome.value,
  );
  if (content === undefined) {
    const message = `${tool.name} returned a result that is not JSON`;
    await fail({ type: 'internal', message }, provenance, outcome.attempts, outcome.audit);
    return;
  }
  // Detector signal and quarantine: committed with the result, before the model sees it.
  const untrusted =
    provenance.trust === 'untrusted'
      ? await untrustedResultEvents({
          agent,
          step: call.step,
          callId: call.callId,
          toolName: tool.name,
          content,
          signal,
        })
      : [];
  if (signal.aborted || journal.state.finished) return;
  await journal.append(
    [
      {
        type: 'tool_finished',
        ...base,
        content,
        contentHash: digest(content),
        // Recalled text keeps the weakest label of what was recalled.
        provenance: recalling ? recallProvenance(content) : provenance,
        attempts: outcome.attempts,
        latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
        ...(outcome.degraded ? { degraded: outcome.degraded } : {}),
        ...(outcome.cache ? { cache: outcome.cache } : {}),
      },
      ...untrusted,
    ],
    undefined,
    outcome.audit,
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
