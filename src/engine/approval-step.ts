import type { Agent } from '../agent/index.js';
import type { PendingCall, RunEvent, RunReason, RunState, RunStatus } from '../journal/index.js';
import { argumentsHash, type Approvals, type ContextText } from '../approval/index.js';
import { TRUSTED_AGENT, digest, type Clock } from '../core/index.js';
import type { ApprovalRecord, NewEvent, Store } from '../store/index.js';
import { flaggedEvent, gatesFor } from './untrusted-step.js';

/**
 * Gate a step's validated calls before anything is committed: `allow` leaves a call as it is,
 * `confirm` adds an `approval_requested` after its `tool_requested` (the call will not start
 * until a human decides), `deny` replaces it with a `tool_rejected` (`forbidden`) fed back to
 * the model. Returns the events to commit and the ids of the calls held for approval.
 */
export function gateCalls({
  agent,
  state,
  runId,
  step,
  events,
  now,
}: {
  agent: Agent;
  state: RunState;
  runId: string;
  step: number;
  events: readonly RunEvent[];
  now: number;
}): { events: RunEvent[]; held: Set<string> } {
  const held = new Set<string>();
  // An injection signal over its threshold adds a policy: it only ever tightens.
  const gates = gatesFor(agent, state.signalled);
  // Only policies and the output monitor read the context: without them it is not built.
  const context =
    (gates?.options.policies?.length ?? 0) > 0 || agent.untrusted.monitor
      ? runContext(agent, state)
      : undefined;
  const gated: RunEvent[] = [];
  for (const event of events) {
    if (event.type === 'tool_rejected') {
      gated.push(event, ...flaggedEvent(agent, event, context ?? []));
      continue;
    }
    if (event.type !== 'tool_requested') {
      gated.push(event);
      continue;
    }
    const flagged = flaggedEvent(agent, event, context ?? []);
    if (!gates) {
      gated.push(event, ...flagged);
      continue;
    }
    const decision = gates.decide({
      runId,
      agent: agent.name,
      step,
      index: event.index,
      toolName: event.toolName,
      effect: event.effect,
      input: event.input,
      tainted: state.tainted,
      context,
    });
    // What policies asked to journal, right after the call it is about (before a rejection).
    const verdicts: RunEvent[] = [...flagged];
    for (const record of decision.records ?? []) {
      verdicts.push({
        type: 'guard_verdict',
        step,
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
          step,
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
        held.add(event.callId);
        gated.push(event, ...verdicts, {
          type: 'approval_requested',
          step,
          callId: event.callId,
          index: event.index,
          toolName: event.toolName,
          approvalId: approvalId(runId, step, event.index),
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
  return { events: gated, held };
}

/** What the run saw before this step, as text with provenance: what a guard grounds in. */
function runContext(agent: Agent, state: RunState): ContextText[] {
  const context: ContextText[] = [{ text: agent.instructions, provenance: TRUSTED_AGENT }];
  for (const message of state.messages) {
    for (const part of message.parts) {
      const text =
        part.type === 'text'
          ? part.text
          : part.type === 'tool_result'
            ? part.content
            : part.arguments;
      context.push({ text, provenance: part.provenance });
    }
  }
  // What quarantined references resolve to came from untrusted content: ground it there.
  for (const [callId, extracted] of state.quarantined)
    context.push({
      text: JSON.stringify(extracted) ?? '',
      provenance: { trust: 'untrusted', source: `quarantine:${callId}` },
    });
  return context;
}

/** Stable per call: a resumed worker re-creates the same approval, never a second one. */
export function approvalId(runId: string, step: number, index: number): string {
  return `apr_${digest(`${runId}:${step}:${index}`).slice(0, 20)}`;
}

export interface ApprovalStepContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly runId: string;
  readonly workerId: string;
  readonly claim: number;
  readonly state: RunState;
  readonly approvals?: Approvals | undefined;
  readonly append: (events: RunEvent[]) => Promise<void>;
  readonly finish: (status: RunStatus, reason: RunReason, events: RunEvent[]) => Promise<void>;
  /** Commit `events` through `write` (which decides whether they commit); applies them if so. */
  readonly commitWith: (
    events: RunEvent[],
    write: (entries: NewEvent[]) => Promise<boolean>,
  ) => Promise<boolean>;
}

/**
 * Every open call waits on a human: make sure each has its approval record (and its group was
 * told), journal decisions that were made, and otherwise park the run — `waiting`, no lease, no
 * worker — until a decision or an expiry queues it again. Returns `suspended` when parked.
 */
export async function awaitApproval(
  context: ApprovalStepContext,
  calls: readonly PendingCall[],
): Promise<'continue' | 'suspended'> {
  const { store, clock, runId } = context;
  const step = calls[0]?.step ?? 0;
  for (const call of calls) {
    const request = call.awaitingApproval;
    if (!request) continue;
    const { record, created } = await store.approvals.create({
      id: request.approvalId,
      runId,
      agent: context.state.agent,
      step: call.step,
      callIndex: call.index,
      callId: call.callId,
      toolName: call.toolName,
      args: call.input,
      argsHash: request.argsHash,
      gateReason: request.reason,
      approverGroup: request.approverGroup,
      createdAt: clock.now(),
      expiresAt: request.expiresAt,
      onExpiry: request.onExpiry,
    });
    // Told once; a record created before a crash but never notified is told on resume.
    if ((created || record.notifiedAt === null) && record.state === 'pending')
      void context.approvals?.notify(record);
  }

  const records = await store.approvals.forStep(runId, step);
  const decided: RunEvent[] = [];
  let endRun: ApprovalRecord | undefined;
  for (const call of calls) {
    const decision = records.find(
      (record) =>
        record.callIndex === call.index &&
        (record.state === 'approved' || record.state === 'denied' || record.state === 'expired'),
    );
    if (!decision) continue;
    if (decision.state === 'expired' && decision.onExpiry.type === 'end_run') endRun = decision;
    decided.push({
      type: 'approval_decided',
      step: call.step,
      callId: call.callId,
      toolName: call.toolName,
      approvalId: decision.id,
      decision: decision.state as 'approved' | 'denied' | 'expired',
      decidedBy: decision.decidedBy ?? 'unknown',
      reason: decision.decisionReason ?? undefined,
      ...(decision.editedArgs === undefined ? {} : { editedInput: decision.editedArgs }),
      at: clock.now(),
    });
  }
  if (endRun) {
    await context.finish(
      'escalated',
      {
        type: 'escalation',
        message: `approval ${endRun.id} for ${endRun.toolName} expired undecided (group ${endRun.approverGroup})`,
      },
      decided,
    );
    return 'continue';
  }
  if (decided.length > 0) {
    await context.append(decided);
    return 'continue';
  }

  const parked = await context.commitWith(
    [
      {
        type: 'run_suspended',
        workerId: context.workerId,
        approvalIds: calls.flatMap((call) =>
          call.awaitingApproval ? [call.awaitingApproval.approvalId] : [],
        ),
        at: clock.now(),
      },
    ],
    (entries) =>
      store.suspendRun({
        runId,
        leaseOwner: context.workerId,
        claim: context.claim,
        step,
        callIndexes: calls.map((call) => call.index),
        events: entries,
        now: clock.now(),
      }),
  );
  return parked ? 'suspended' : 'continue';
}
