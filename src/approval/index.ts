export {
  DEFAULT_APPROVAL_EXPIRY_MS,
  DEFAULT_APPROVER_GROUP,
  defineGates,
  describeGateReason,
  type ApprovalRouting,
  type ExpiryOption,
  type GateCall,
  type GateDecision,
  type GateOptions,
  type GatePolicy,
  type GateReason,
  type Gates,
  type PolicyRecord,
  type PolicyVerdict,
  type ToolGateOptions,
} from './gates.js';
export {
  argumentsHash,
  createApprovals,
  type Approvals,
  type ApprovalsOptions,
  type Approver,
  type ApprovalDecisionRequest,
} from './approvals.js';
export { approvalNotice, type NoticeOptions } from './approval-notice.js';
export { hashApproverToken, newApproverToken } from './approver-tokens.js';
export { approvalJson } from './approval-json.js';
export { approverSees, requireDecider, visibleGroups } from './approver-roles.js';
export { gateGroups } from './gate-groups.js';
export { APPROVER_ROLES, type ApproverRole } from '../store/index.js';
