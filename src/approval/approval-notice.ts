import { canonicalJson } from '../core/index.js';
import type { Notification } from '../notify/index.js';
import type { ApprovalRecord } from '../store/index.js';
import { describeGateReason, type GateReason } from './gates.js';

export interface NoticeOptions {
  /** Base URL of the approval API (`keel serve`), for the decide link. */
  readonly baseUrl?: string | undefined;
}

/**
 * The notification that asks a group to decide: what, why, until when, and how to decide
 * (the link and the CLI commands, bound to the arguments' hash).
 */
export function approvalNotice(
  approval: ApprovalRecord,
  { baseUrl }: NoticeOptions = {},
): Notification {
  const args = canonicalJson(approval.args);
  const link = `${(baseUrl ?? 'http://127.0.0.1:4600').replace(/\/+$/, '')}/approvals/${encodeURIComponent(approval.id)}`;
  const escalated = approval.escalatedFrom ? ' (escalated)' : '';
  return {
    kind: 'approval_requested',
    subject: approval.id,
    title: `Approval needed${escalated}: ${approval.toolName} (${approval.agent})`,
    text: `Run ${approval.runId} wants to call ${approval.toolName}. Gated because ${describeGateReason(approval.gateReason as GateReason)}. Group "${approval.approverGroup}" decides before ${new Date(approval.expiresAt).toISOString()}.`,
    fields: [
      { label: 'approval', value: approval.id },
      { label: 'run', value: approval.runId },
      { label: 'tool', value: approval.toolName },
      { label: 'arguments', value: args.length > 500 ? `${args.slice(0, 499)}…` : args },
      { label: 'arguments hash', value: approval.argsHash },
      { label: 'group', value: approval.approverGroup },
      { label: 'expires', value: new Date(approval.expiresAt).toISOString() },
    ],
    links: [{ label: 'Decide', url: link }],
    commands: [
      `keel approve ${approval.id} --hash ${approval.argsHash}`,
      `keel deny ${approval.id} --reason "..."`,
    ],
    data: {
      approvalId: approval.id,
      runId: approval.runId,
      toolName: approval.toolName,
      argsHash: approval.argsHash,
      approverGroup: approval.approverGroup,
      expiresAt: approval.expiresAt,
      decideUrl: link,
    },
  };
}
