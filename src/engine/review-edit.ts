import type { Agent } from '../agent/index.js';
import type { GateDecision } from '../approval/index.js';
import { KeelError } from '../core/index.js';
import { reviewCall, type ReviewedCall } from '../guard/index.js';
import { foldRun } from '../journal/index.js';
import type { ApprovalRecord, Store } from '../store/index.js';
import { ROUTING_ONLY } from './gate-calls.js';
import { runContext } from './guard-review.js';

/**
 * The guard and the gates on an approval's call with other arguments, as if the model had sent
 * them at that step: what an approver's edit must pass.
 */
export async function reviewEdit(
  store: Store,
  agent: Agent | undefined,
  approval: ApprovalRecord,
  editedArgs: unknown,
): Promise<GateDecision> {
  const tool = agent?.tool(approval.toolName);
  if (!agent || !tool)
    throw new KeelError(
      'conflict',
      `agent "${approval.agent}" with tool "${approval.toolName}" is not loaded here: decide where it runs`,
    );
  const state = foldRun((await store.readEvents(approval.runId)).map((entry) => entry.event));
  const call: ReviewedCall = {
    runId: approval.runId,
    agent: agent.name,
    step: approval.step,
    index: approval.callIndex,
    toolName: tool.name,
    toolDescription: tool.description,
    effect: tool.effect,
    input: editedArgs,
    tainted: state.tainted,
    context: runContext(agent, state),
  };
  const review = reviewCall(call, { guard: agent.guard, signalled: state.signalled });
  return (agent.gates ?? ROUTING_ONLY).decide(call, review);
}
