/**
 * `keel/guard`: the structural defence against prompt injection, piece by piece — the action
 * policy and its review of a call, argument origins, the injection detector, the output monitor,
 * spotlighting and the quarantined reader. An agent gets most of it with
 * `defineAgent({ guard: defineGuard(...), untrusted: {...} })`.
 *
 * @packageDocumentation
 */
export {
  ARGUMENT_ORIGINS,
  GUARD_POLICY,
  INJECTION_SIGNAL_POLICY,
  MONITOR_FLAG_KINDS,
  defineGuard,
  heuristicDetector,
  monitorCall,
  originOf,
  quarantineView,
  quarantinedRead,
  reviewCall,
  spotlight,
  type ArgumentCondition,
  type ArgumentOrigin,
  type CallReview,
  type ContextText,
  type FieldLabel,
  type Guard,
  type GuardDecision,
  type GuardOptions,
  type GuardRule,
  type GuardVerdict,
  type InjectionDetector,
  type InjectionSignal,
  type MonitorFlag,
  type MonitorFlagKind,
  type QuarantinedRead,
  type QuarantinedReadOptions,
  type ReviewRecord,
  type ReviewedCall,
  type ToolGuard,
} from '../guard/index.js';
export {
  DEFAULT_SIGNAL_THRESHOLD,
  UNTRUSTED_HANDLINGS,
  type QuarantineReaderOptions,
  type UntrustedDetector,
  type UntrustedHandling,
  type UntrustedOptions,
} from '../agent/index.js';
