import { preflight } from '../agent/index.js';
import type { StepStage } from './model-step.js';

/**
 * Stage 2: the budget pre-flight. The request's input (counted, or estimated) plus the agent's
 * output cap must fit the run's remaining tokens, and its estimated cost the remaining cost;
 * otherwise the run stops before the call.
 */
export const preflightBudget: StepStage = async (execution, step) => {
  const { agent, journal } = execution;
  const checked = preflight(agent, journal.state, {
    request: step.request,
    assembly: step.assembly,
  });
  if (checked.type === 'stop') {
    await journal.stop({ limit: checked.limit, used: checked.used, max: checked.max });
    return 'end';
  }
  step.estimatedInputTokens = checked.estimatedInputTokens;
  return 'next';
};
