export {
  RUN_RECORD_STATUSES,
  STORE_SCHEMA_VERSION,
  type ClaimOptions,
  type JournalWrite,
  type LeaseRenewal,
  type ListRunsOptions,
  type NewEvent,
  type NewRun,
  type RunFinish,
  type RunRecord,
  type RunPrice,
  type RunRecordStatus,
  type Store,
  type StoredEvent,
  type TerminalStatus,
  type WriteGuard,
} from './store.js';
export { DEFAULT_STORE_URL, openStore, type OpenStoreOptions } from './open-store.js';
export { storeFault } from './store-errors.js';
export {
  BREAKER_STATES,
  type BreakerState,
  type CachedToolResult,
  type ToolBreakerRecord,
} from './tool-records.js';
export {
  AUDIT_GENESIS_HASH,
  auditHash,
  verifyAuditChain,
  type AuditEntry,
  type AuditVerification,
  type NewAuditEntry,
} from './audit-log.js';
export {
  APPROVAL_STATES,
  type ApprovalDecisionEntry,
  type ApprovalDecisionInput,
  type ApprovalExpiration,
  type ApprovalExpiry,
  type ApprovalRecord,
  type ApprovalState,
  type ApprovalStore,
  type ApproverRecord,
  type NewApproval,
} from './approval-store.js';
export { RUN_READY_CHANNEL } from './sql-approval-store.js';
export {
  DECISION_STATUSES,
  type DecisionRecord,
  type DecisionStatus,
  type DecisionStore,
} from './decision-store.js';
export {
  searchTerms,
  termWeight,
  type ResultStore,
  type SearchTerm,
  type StoredToolResult,
  type ToolResultMatch,
  type ToolResultSearch,
} from './result-store.js';
