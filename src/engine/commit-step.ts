import type { RunEvent } from '../journal/index.js';
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
  await journal.append([step.called, ...step.calls, ...started]);
  return 'next';
};
