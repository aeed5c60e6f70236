import { validateToolCalls } from '../agent/index.js';
import type { RunReason } from '../journal/index.js';
import type { StepStage } from './model-step.js';

/**
 * Stage 5: each tool call parsed and checked against its tool's schema (bad calls become typed
 * errors fed back), identical calls counted against their limit, and a call outside the
 * agent's tools refused, or the run stopped under `onOutOfScope: 'stop'`.
 */
export const validateCalls: StepStage = async (execution, step) => {
  const { agent, journal } = execution;
  const called = step.called;
  const reply = step.reply;
  if (!called || !reply) return 'end';
  const validation = validateToolCalls(agent, journal.state, step.number, reply.response);
  if (validation.limitHit) {
    await journal.stop(validation.limitHit, [called, ...validation.events]);
    return 'end';
  }
  const outOfScope = validation.events.find(
    (event) => event.type === 'tool_rejected' && event.outOfScope === true,
  );
  if (outOfScope?.type === 'tool_rejected' && agent.onOutOfScope === 'stop') {
    const reason: RunReason = {
      type: 'out_of_scope',
      toolName: outOfScope.toolName,
      step: step.number,
    };
    await journal.finish('stopped', reason, [called, ...validation.events]);
    return 'end';
  }
  step.calls = validation.events;
  return 'next';
};
