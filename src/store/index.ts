export { STORE_SCHEMA_VERSION, type Store } from './store.js';
export {
  RUN_RECORD_STATUSES,
  TERMINAL_STATUSES,
  type ClaimOptions,
  type JournalWrite,
  type LeaseRenewal,
  type ListRunsOptions,
  type NewRun,
  type RunFinish,
  type RunJournalStore,
  type RunRecord,
  type RunRecordStatus,
  type ShadowClaims,
  type SuspendRun,
  type TerminalStatus,
  type WriteGuard,
} from './run-journal.js';
export type { NewEvent, StoredEvent } from '../journal/index.js';
export type { PriceStore, RunPrice } from './price-store.js';
export type { EvalStore, StoredEvalAttempt, StoredEvalRun } from './eval-store.js';
export { DEFAULT_STORE_URL, openStore, type OpenStoreOptions } from './open-store.js';
export { sqliteDriver } from './sqlite-driver.js';
export { migrationProvider } from './schema.js';
export { isPassingStoreFault, storeFault } from './store-errors.js';
export {
  BREAKER_STATES,
  type BreakerState,
  type CachedToolResult,
  type ToolBreakerRecord,
  type ToolStateStore,
} from './tool-records.js';
export {
  AUDIT_CHECKPOINT_KINDS,
  AUDIT_GENESIS_HASH,
  auditHash,
  checkpointSigned,
  finishAuditVerification,
  signCheckpoint,
  startAuditVerification,
  verifyAuditChain,
  type AuditCheckpoint,
  type AuditCheckpointKind,
  type AuditEntry,
  type AuditLog,
  type AuditProblem,
  type AuditVerification,
  type AuditVerificationState,
  type NewAuditEntry,
} from './audit-log.js';
export {
  APPROVAL_STATES,
  APPROVER_ROLES,
  type ApprovalDecisionEntry,
  type ApprovalDecisionInput,
  type ApprovalExpiration,
  type ApprovalExpiry,
  type ApprovalListOptions,
  type ApprovalRecord,
  type ApprovalState,
  type ApprovalStore,
  type ApproverRecord,
  type ApproverRole,
  type NewApproval,
} from './approval-store.js';
export { RUN_READY_CHANNEL } from './sql-run-journal.js';
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
export {
  RUN_LIST_DEFAULT_LIMIT,
  RUN_LIST_MAX_LIMIT,
  type RunBrowser,
  type RunCursor,
  type RunListItem,
  type RunListPage,
  type RunListQuery,
} from './run-browser.js';
export type {
  McpDefinitionEntry,
  McpPinRecord,
  McpPinStore,
  McpPinnedDefinition,
  McpSeenDefinition,
} from './mcp-pin-store.js';
export type { BudgetRequest, ProviderBudgets } from './provider-budgets.js';
export type { ShadowPair, ShadowRecord, ShadowStore, ShadowUsage } from './shadow-store.js';
export type { PrunableRun, PruneSelection, RetentionStore } from './retention.js';
