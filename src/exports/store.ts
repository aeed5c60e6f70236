/**
 * `keel/store`: the store and its ports (run journal and leases, approvals, decisions, results,
 * tool state, audit log, prices) for code that reads or checks what Keel recorded.
 *
 * @packageDocumentation
 */
export {
  APPROVAL_STATES,
  AUDIT_GENESIS_HASH,
  DECISION_STATUSES,
  DEFAULT_STORE_URL,
  RUN_RECORD_STATUSES,
  STORE_SCHEMA_VERSION,
  auditHash,
  openStore,
  verifyAuditChain,
  type ApprovalRecord,
  type ApprovalStore,
  type AuditEntry,
  type AuditLog,
  type AuditVerification,
  type DecisionRecord,
  type DecisionStatus,
  type DecisionStore,
  type NewAuditEntry,
  type OpenStoreOptions,
  type PriceStore,
  type ResultStore,
  type RunJournalStore,
  type RunPrice,
  type RunRecord,
  type RunRecordStatus,
  type Store,
  type StoredEvent,
  type StoredToolResult,
  type ToolStateStore,
} from '../store/index.js';
