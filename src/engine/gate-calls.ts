import { argumentsHash, defineGates, type Gates } from '../approval/index.js';
import { digest } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';
import { reviewedCall } from './guard-review.js';
import type { StepStage } from './model-step.js';

/** The gates of an agent that has none: no trigger of their own, they route a guard's confirm. */
export const ROUTING_ONLY: Gates = defineGates({ effects: [] }, 'gates');

/**
 * Stage 7: the approval gates decide each reviewed call: `allow` leaves it as it is, `confirm`
 * adds an `approval_requested` after its `tool_requested` (the call will not start until a human
 * decides), `deny` replaces it with a `tool_rejected` (`forbidden`) fed back to the model. The
 * guard's verdicts and the policies' records are journaled next to the call they are about.
 */
export const gateCalls: StepStage = (execution, step) => {
  const { agent, run } = execution;
  const gates = agent.gates ?? ROUTING_ONLY;
  const now = run.clock.now();
  const gated: RunEvent[] = [];
  for (const event of step.calls) {
    if (event.type !== 'tool_requested') {
      gated.push(
        event,
        ...(event.type === 'tool_rejected' ? (step.flags.get(event.callId) ?? []) : []),
      );
      continue;
    }
    const decision = gates.decide(
      reviewedCall(execution, step, event),
      step.reviews.get(event.callId),
    );
    // What policies asked to journal, right after the call it is about (before a rejection).
    const verdicts: RunEvent[] = [...(step.flags.get(event.callId) ?? [])];
    for (const record of decision.records ?? []) {
      verdicts.push({
        type: 'guard_verdict',
        step: step.number,
        callId: event.callId,
        index: event.index,
        toolName: event.toolName,
        policy: record.policy,
        verdict: record.verdict,
        rule: record.rule,
        ...(record.origins === undefined ? {} : { origins: record.origins }),
      });
    }
    switch (decision.type) {
      case 'allow':
        gated.push(event, ...verdicts);
        break;
      case 'deny':
        gated.push(...verdicts, {
          type: 'tool_rejected',
          step: step.number,
          callId: event.callId,
          index: event.index,
          toolName: event.toolName,
          error: {
            type: 'forbidden',
            message: `refused by policy: ${JSON.stringify(decision.reason)}`,
          },
        });
        break;
      case 'confirm':
        if (execution.journal.state.shadowOf !== undefined) {
          // A shadow run asks nobody: the call is recorded as one a human would have decided,
          // and goes on to the shadow's interception (which never lets it take effect).
          gated.push(event, ...verdicts, {
            type: 'would_need_approval',
            step: step.number,
            callId: event.callId,
            index: event.index,
            toolName: event.toolName,
            input: event.input,
            reason: decision.reason,
            approverGroup: decision.approverGroup,
          });
          break;
        }
        step.held.add(event.callId);
        gated.push(event, ...verdicts, {
          type: 'approval_requested',
          step: step.number,
          callId: event.callId,
          index: event.index,
          toolName: event.toolName,
          approvalId: approvalId(run.runId, step.number, event.index),
          argsHash: argumentsHash(event.input),
          reason: decision.reason,
          approverGroup: decision.approverGroup,
          expiresAt: now + decision.expiresAfterMs,
          onExpiry: decision.onExpiry,
        });
        break;
      default:
        decision satisfies never;
    }
  }
  step.calls = gated;
  return 'next';
};

/** Stable per call: a resumed worker re-creates the same approval, never a second one. */
export function approvalId(runId: string, step: number, index: number): string {
  return `apr_${digest(`${runId}:${step}:${index}`).slice(0, 20)}`;
}
