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
  reviewCall,
  type CallReview,
  type ContextText,
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
  spotlightNote,
  spotlightSystem,
  spotlightText,
} from './spotlight.js';
export {
  MONITOR_FLAG_KINDS,
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
  type FieldLabel,
  type QuarantinedRead,
  type QuarantinedReadOptions,
} from './quarantined-reader.js';
