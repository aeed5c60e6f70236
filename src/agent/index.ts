export {
  OUT_OF_SCOPE_POLICIES,
  defineAgent,
  type Agent,
  type AgentDefinition,
  type OutOfScopePolicy,
} from './define-agent.js';
export {
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  resolveLimits,
  type LimitName,
  type RunLimits,
} from './limits.js';
export {
  RUN_STATUSES,
  describeReason,
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
  foldRun,
  waitedMs,
  type ApprovalRequest,
  type PendingCall,
  type RunState,
} from './run-state.js';
export {
  assembleRequest,
  buildRequest,
  modelOutputProvenance,
  nextAction,
  stepsDueForSummary,
  validateToolCalls,
  type CallValidation,
  type NextAction,
  type PreparedContext,
} from './next-action.js';
export {
  DEFAULT_SIGNAL_THRESHOLD,
  UNTRUSTED_HANDLINGS,
  type QuarantineReaderOptions,
  type UntrustedConfig,
  type UntrustedDetector,
  type UntrustedHandling,
  type UntrustedOptions,
} from './untrusted-options.js';
