import type { ApprovalRecord } from '../store/index.js';

/** The JSON shape of an approval in `--json` output and the HTTP API. */
export function approvalJson(approval: ApprovalRecord) {
  return {
    id: approval.id,
    state: approval.state,
    runId: approval.runId,
    agent: approval.agent,
    step: approval.step,
    toolName: approval.toolName,
    args: approval.args,
    argsHash: approval.argsHash,
    gateReason: approval.gateReason,
    approverGroup: approval.approverGroup,
    createdAt: new Date(approval.createdAt).toISOString(),
    expiresAt: new Date(approval.expiresAt).toISOString(),
    onExpiry: approval.onExpiry,
    decidedBy: approval.decidedBy,
    decidedById: approval.decidedById,
    decidedAt: approval.decidedAt === null ? null : new Date(approval.decidedAt).toISOString(),
    reason: approval.decisionReason,
    editedArgs: approval.editedArgs ?? null,
    escalatedFrom: approval.escalatedFrom,
  };
}
