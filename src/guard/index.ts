export {
  ARGUMENT_ORIGINS,
  argumentLeaves,
  originOf,
  type ArgumentLeaf,
  type ArgumentOrigin,
} from './argument-origins.js';
export {
  GUARD_POLICY,
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
  heuristicDetector,
  type InjectionDetector,
  type InjectionSignal,
} from './injection-detector.js';
