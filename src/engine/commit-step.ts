import type { RunEvent } from '../journal/index.js';
import { executingRuns } from './executing-runs.js';
import { idempotencyKey } from './execution.js';
import type { StepStage } from './model-step.js';

/**
 * Stage 8: the step's events in one commit — the model's reply, each call as requested,
 * reviewed and gated, and a `tool_started` for every call allowed to run now. Durable before
 * visible: no tool starts before this commits.
 */
export const commitStep: StepStage = async (execution, step) => {
  const { journal, issuedHere, run } = execution;
  if (!step.called) return 'end';
  const started: RunEvent[] = [];
  for (const event of step.calls) {
    if (event.type !== 'tool_requested' || step.held.has(event.callId)) continue;
    issuedHere.add(event.callId);
    started.push({
      type: 'tool_started',
      step: step.number,
      callId: event.callId,
      toolName: event.toolName,
      idempotencyKey: idempotencyKey(run.runId, step.number, event.index),
      attempt: 1,
    });
  }
  const events = [step.called, ...step.calls, ...started];
  if (repeatableUntilResults(execution, step, started)) {
    // No more than one model call runs ahead of what is durable: a slow disk holds the run
    // here, before this step's calls, until the last step's results are on it.
    if (journal.ahead) await journal.durable();
    journal.defer(events);
    // Alone in its process, the run need not wait for its disk: its results commit ahead of
    // the next model call. Beside other runs, steps that wait for their commits keep the
    // runs in step, so many share each commit: fewer commits, more runs per second.
    execution.repeatableStep = executingRuns() === 1 ? step.number : undefined;
  } else {
    execution.repeatableStep = undefined;
    await journal.append(events);
  }
  return 'next';
};

/**
 * Whether the step may commit with its first result instead of before its calls run: every
 * call it starts reads (a trusted tool with effect `read`), none waits on a human, and it
 * starts at least one (so a result write follows). Until that write nothing happened that a
 * repeat of the step would not do again harmlessly; a write, an irreversible or egress call,
 * or untrusted content (read by further models) commits first, as every step did before.
 */
function repeatableUntilResults(
  execution: Parameters<StepStage>[0],
  step: Parameters<StepStage>[1],
  started: readonly RunEvent[],
): boolean {
  if (started.length === 0 || step.held.size > 0) return false;
  const interceptedElsewhere = execution.run.interceptToolCall !== undefined;
  if (interceptedElsewhere) return false;
  return started.every((event) => {
    if (event.type !== 'tool_started') return false;
    const tool = execution.agent.tool(event.toolName);
    return tool !== undefined && tool.effect === 'read' && !tool.untrustedOutput;
  });
}
