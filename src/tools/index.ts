export {
  DEFAULT_ESCAPE_ON,
  DEFAULT_TOOL_BREAKER,
  DEFAULT_TOOL_BULKHEAD,
  DEFAULT_TOOL_RETRY,
  DEFAULT_TOOL_TIMEOUT_MS,
  TOOL_EFFECTS,
  defineTool,
  type Tool,
  type ToolBreakerOptions,
  type ToolBulkheadOptions,
  type ToolCacheOptions,
  type ToolCallJournal,
  type JournaledDecisionEntry,
  type ToolContext,
  type ToolDefinition,
  type ToolEffect,
  type ToolEscape,
  type ToolRetryOptions,
} from './define-tool.js';
export {
  TOOL_ERROR_TYPES,
  TRANSIENT_TOOL_ERRORS,
  ToolError,
  toToolFailure,
  type ToolErrorType,
  type ToolFailure,
} from './tool-error.js';
export {
  executeTool,
  retryDelay,
  type ExecuteToolOptions,
  type ToolAttemptHooks,
  type ToolCallDecision,
  type ToolOutcome,
} from './execute-tool.js';
export {
  throwIfHttpError,
  toolErrorFromResponse,
  toolErrorTypeOfStatus,
  type HttpResponseLike,
} from './http-error.js';
export { BREAKER_COUNTED_ERRORS, SharedBreaker, type BreakerAdmission } from './circuit-breaker.js';
export { cacheKey } from './tool-cache.js';
export {
  DEFAULT_BREAKER_SYNC_MS,
  ToolPolicies,
  createToolPolicies,
  type ToolPoliciesOptions,
} from './tool-policies.js';
// The audit log lives in the store; tools and approvals append to it through this door too.
export {
  AUDIT_GENESIS_HASH,
  verifyAuditChain,
  type AuditEntry,
  type AuditVerification,
  type NewAuditEntry,
} from '../store/index.js';
