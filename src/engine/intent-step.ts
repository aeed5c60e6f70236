import { planTaskIntent } from '../guard/index.js';
import { costOf } from '../model/index.js';
import type { StepStage } from './model-step.js';

/** The effects a plan names: the ones that change the world or send data out. */
const CONSEQUENTIAL = new Set(['write', 'egress', 'irreversible']);

/**
 * Stage 0 (agents with `untrusted.plan`): before the first model step, while the run holds only
 * trusted text, a structured call reads from the task which consequential tools it asks for;
 * the `intent_planned` event keeps the answer (and the planner's raw replies, which replay
 * serves back). The guard then holds any consequential call outside the plan once untrusted
 * content entered the run. A run whose task is itself untrusted is not planned: its plan could
 * be the attacker's.
 */
export const planIntent: StepStage = async (execution, step) => {
  const { agent, journal } = execution;
  const state = journal.state;
  const plan = agent.untrusted.plan;
  if (plan === false || state.planned || state.tainted || step.number !== 0) return 'next';
  const intent = await planTaskIntent({
    model: plan.model,
    task: state.task,
    instructions: agent.instructions,
    tools: agent.tools
      .filter((tool) => CONSEQUENTIAL.has(tool.effect))
      .map((tool) => ({ name: tool.name, description: tool.description, effect: tool.effect })),
    retries: plan.retries,
    signal: execution.signal,
  });
  if (execution.signal.aborted) return 'end';
  await journal.append([
    {
      type: 'intent_planned',
      step: step.number,
      ...(intent.ok ? { tools: intent.tools } : { error: intent.error }),
      outputs: intent.outputs,
      usage: intent.usage,
      costUsd: costOf(intent.usage, plan.model.price),
    },
  ]);
  return 'next';
};
