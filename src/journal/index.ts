export {
  FINISH_REASONS,
  MESSAGE_ROLES,
  MODEL_ERROR_TYPES,
  type FinishReason,
  type Message,
  type MessagePart,
  type MessageRole,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelUsage,
  type TextPart,
  type ToolCallPart,
  type ToolResultPart,
} from './conversation.js';
export {
  conversationCopy,
  conversationEdited,
  conversationLog,
  conversationMark,
  sharedPrefix,
  type ConversationMark,
} from './conversation-log.js';
export {
  TOOL_EFFECTS,
  TOOL_ERROR_TYPES,
  type ToolEffect,
  type ToolErrorType,
  type ToolFailure,
} from './tool-terms.js';
export type { ApprovalExpiry, GateReason } from './approval-terms.js';
export {
  CONTEXT_SECTIONS,
  type ContextAssembly,
  type ContextSection,
  type ContextSectionName,
  type SummaryOutcome,
} from './context-terms.js';
export type { DecisionEvent } from './decision-events.js';
export {
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  resolveLimits,
  type LimitName,
  type RunLimits,
} from './limits.js';
export {
  budgetReached,
  elapsedMs,
  limitBeforeStep,
  queueTimeReached,
  remainingLimits,
  remainingTimeMs,
  type LimitReached,
} from './limit-checks.js';
export {
  RUN_STATUSES,
  describeReason,
  type AnswerProvenanceSpan,
  type InDoubtCall,
  type RunEvent,
  type RunEventType,
  type RunOutcome,
  type RunReason,
  type RunStatus,
  type UsageTotals,
} from './run-events.js';
export {
  addUsage,
  applyEvent,
  callKey,
  deniedContent,
  emptyRunState,
  errorContent,
  HELD_ANSWER_TOOL,
  foldRun,
  startedWithoutOutcome,
  waitedMs,
  type ApprovalRequest,
  type CallVerdict,
  type PendingCall,
  type RunState,
} from './run-state.js';
export {
  JOURNAL_SCHEMA_VERSION,
  RUN_EVENT_TYPES,
  readEvent,
  type NewEvent,
  type StoredEvent,
} from './event-schema.js';
export {
  journalRedaction,
  runAsShown,
  runSecretSpec,
  type JournalRedaction,
  type KnownSecrets,
  type RunSecretSpec,
  type ToolSecretPaths,
} from './run-secrets.js';
