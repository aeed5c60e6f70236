export {
  ARGUMENT_ORIGINS,
  argumentLeaves,
  originOf,
  type ArgumentLeaf,
  type ArgumentOrigin,
} from './argument-origins.js';
export {
  defineGuard,
  type ArgumentCondition,
  type Guard,
  type GuardDecision,
  type GuardOptions,
  type GuardRule,
  type GuardVerdict,
  type ToolGuard,
} from './action-policy.js';
export {
  GUARD_POLICY,
  INJECTION_SIGNAL_POLICY,
  MONITOR_POLICY,
  reviewCall,
  type CallReview,
  type ContextText,
  type ReviewInputs,
  type ReviewRecord,
  type ReviewedCall,
} from './call-review.js';
export {
  heuristicDetector,
  type InjectionDetector,
  type InjectionSignal,
} from './injection-detector.js';
export {
  SPOTLIGHT_PLACEHOLDER,
  spotlight,
  spotlightMessage,
  spotlightNonce,
  spotlightedParts,
  spotlightNote,
  spotlightSystem,
  spotlightText,
} from './spotlight.js';
export {
  MONITOR_ACTIONS,
  MONITOR_FLAG_KINDS,
  type MonitorAction,
  looksLikeDestination,
  monitorCall,
  type MonitorFlag,
  type MonitorFlagKind,
  type MonitoredCall,
} from './output-monitor.js';
export {
  fieldLabels,
  parseAnswer,
  quarantineView,
  quarantinedRead,
  type CallBudget,
  type FieldLabel,
  type QuarantinedRead,
  type QuarantinedReadOptions,
} from './quarantined-reader.js';
export {
  ANSWER_HANDLINGS,
  destinationOrigin,
  guardAnswer,
  linksIn,
  type AnswerFinding,
  type AnswerGuardOptions,
  type AnswerHandling,
  type AnswerReview,
  type AnswerSpan,
  type DestinationOrigin,
  type TextLink,
} from './answer-guard.js';
export {
  privateValues,
  privateValuesIn,
  type PrivateMark,
  type PrivateResult,
} from './private-data.js';
export {
  planTaskIntent,
  type PlannableTool,
  type TaskIntent,
  type TaskIntentOptions,
} from './intent-plan.js';
