/**
 * `keel/approval`: gates and approval records outside an agent definition — deciding a call by
 * hand, the arguments hash a decision binds to, the approvals API a server builds on.
 *
 * @packageDocumentation
 */
export {
  argumentsHash,
  createApprovals,
  defineGates,
  describeGateReason,
  type ApprovalDecisionRequest,
  type Approvals,
  type ApprovalsOptions,
  type Approver,
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
} from '../approval/index.js';
export {
  APPROVAL_STATES,
  type ApprovalDecisionEntry,
  type ApprovalExpiry,
  type ApprovalRecord,
  type ApprovalState,
} from '../store/index.js';
