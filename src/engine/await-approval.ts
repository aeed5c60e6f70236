import { redactSecrets } from '../core/index.js';
import type { PendingCall, RunEvent } from '../journal/index.js';
import type { ApprovalRecord } from '../store/index.js';
import type { Execution } from './execution.js';

/**
 * Every open call waits on a human: make sure each has its approval record (and its group was
 * told), journal decisions that were made, and otherwise park the run — `waiting`, no lease, no
 * worker — until a decision or an expiry queues it again. Returns `suspended` when parked.
 */
export async function awaitApproval(
  execution: Execution,
  calls: readonly PendingCall[],
): Promise<'continue' | 'suspended'> {
  const { journal } = execution;
  const { store, clock, runId, workerId, approvals, toolPolicies } = execution.run;
  const step = calls[0]?.step ?? 0;
  for (const call of calls) {
    const request = call.awaitingApproval;
    if (!request) continue;
    const createdAt = clock.now();
    const { record, created } = await store.approvals.create(
      {
        id: request.approvalId,
        runId,
        agent: journal.state.agent,
        step: call.step,
        callIndex: call.index,
        callId: call.callId,
        toolName: call.toolName,
        // What people are shown (CLI, API, decide page, notifications): secrets as a digest. The
        // hash binds the decision to the real arguments, which the journal keeps.
        args: redactSecrets(call.input, {
          paths: execution.agent.tool(call.toolName)?.secretFields.input ?? [],
          redactors: toolPolicies?.redact ?? [],
          salt: runId,
        }),
        argsHash: request.argsHash,
        gateReason: request.reason,
        approverGroup: request.approverGroup,
        createdAt,
        expiresAt: request.expiresAt,
        onExpiry: request.onExpiry,
      },
      {
        // Who was asked to decide what, in the audit log (the decision's row follows), in the
        // approval's own commit: no approval exists without it.
        audit: {
          kind: 'approval_requested',
          at: createdAt,
          runId,
          data: {
            approvalId: request.approvalId,
            toolName: call.toolName,
            argsHash: request.argsHash,
            gateReason: request.reason,
            approverGroup: request.approverGroup,
            expiresAt: request.expiresAt,
          },
        },
      },
    );
    // Told once; a record created before a crash but never notified is told on resume.
    if ((created || record.notifiedAt === null) && record.state === 'pending')
      void approvals?.notify(record);
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
      // The edit as it runs (the record's `editedArgs` is what people are shown).
      ...(decision.editedInput === undefined ? {} : { editedInput: decision.editedInput }),
      at: clock.now(),
    });
  }
  if (endRun) {
    await journal.finish(
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
    await journal.append(decided);
    return 'continue';
  }

  const parked = await journal.commitWith(
    [
      {
        type: 'run_suspended',
        workerId,
        approvalIds: calls.flatMap((call) =>
          call.awaitingApproval ? [call.awaitingApproval.approvalId] : [],
        ),
        at: clock.now(),
      },
    ],
    (entries) =>
      store.suspendRun({
        runId,
        leaseOwner: workerId,
        claim: execution.run.claim?.number ?? 1,
        step,
        callIndexes: calls.map((call) => call.index),
        events: entries,
        now: clock.now(),
      }),
  );
  return parked ? 'suspended' : 'continue';
}
