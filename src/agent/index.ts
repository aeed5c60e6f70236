export {
  NO_COST_LIMIT,
  OUT_OF_SCOPE_POLICIES,
  checkCostLimitShape,
  costLimitProblem,
  sideModels,
  type SideModel,
  costLimitSource,
  defineAgent,
  type Agent,
  type CostLimitSource,
  type AgentDefinition,
  type AgentLimits,
  type OutOfScopePolicy,
} from './define-agent.js';
export {
  actionBeforeStep,
  assembleRequest,
  preflight,
  spotlightTokens,
  type AssembledRequest,
  buildRequest,
  modelOutputProvenance,
  nextAction,
  stepsDueForSummary,
  validateToolCalls,
  type CallValidation,
  type NextAction,
  type PreflightOptions,
  type PreparedContext,
} from './next-action.js';
export {
  DEFAULT_SIGNAL_THRESHOLD,
  GENERIC_READER_SCHEMA,
  UNTRUSTED_HANDLINGS,
  type QuarantineReaderOptions,
  type TaskPlannerOptions,
  type UntrustedConfig,
  type UntrustedDetector,
  type UntrustedHandling,
  type UntrustedOptions,
} from './untrusted-options.js';
export { AGENT_VERSION, contentVersion, type VersionedContent } from './agent-version.js';
export { resolveRunModel } from './run-model.js';
