export {
  ENVIRONMENTS,
  HUMANS,
  runSecurityBench,
  type Counterexample,
  type Human,
  type SecurityBenchOptions,
  type SecurityBenchReport,
  type SuiteMetrics,
} from './security-bench.js';
export { banking, type BankWorld } from './banking.js';
export { workspace, type WorkspaceWorld } from './workspace.js';
export { messaging, type MessagingWorld } from './messaging.js';
export { travel, type TravelWorld } from './travel.js';
export {
  ATTACK_CLASSES,
  INJECTION_TEMPLATES,
  type AttackClass,
  type Environment,
  type InjectionTask,
  type PlannedCall,
  type UserTask,
} from './scenario.js';
export { THREAT_LEVELS, type ThreatLevel } from './scripted-models.js';
