/**
 * Keel: a runtime that keeps LLM agents reliable in production. This entry point holds what a
 * team writes agents with; parts used less often have their own subpaths (`keel/guard`,
 * `keel/observe`, `keel/model`, `keel/decide`, `keel/approval`, `keel/notify`, `keel/store`,
 * `keel/journal`, `keel/replay`, `keel/context`, `keel/testing`).
 *
 * @packageDocumentation
 */

// Agents, and the runtime that runs them durably.
export {
  OUT_OF_SCOPE_POLICIES,
  defineAgent,
  type Agent,
  type AgentDefinition,
  type AgentLimits,
  type CostLimitSource,
  type OutOfScopePolicy,
} from './agent/index.js';
export {
  createRuntime,
  eraseRun,
  type EraseReport,
  type ForkOptions,
  type ProviderLimit,
  type ProviderLimits,
  type RunInspection,
  type RunResult,
  type Runtime,
  type RetentionOptions,
  type RuntimeApprovalOptions,
  type RuntimeAuditOptions,
  type RuntimeOptions,
  type StartRunOptions,
  type FollowRunOptions,
  type RunStream,
  type RunStreamEvent,
  type StreamRunOptions,
  type Worker,
  type WorkerOptions,
} from './engine/index.js';
export {
  DEFAULT_STORE_URL,
  openStore,
  type OpenStoreOptions,
  type RunRecord,
  type Store,
} from './store/index.js';

// Faults: misuse, bad configuration, broken infrastructure (run outcomes are never thrown).
export {
  KEEL_ERROR_CODES,
  KeelError,
  redactors,
  type KeelErrorCode,
  type Redactor,
} from './core/index.js';

// Tools: typed effects, typed errors.
export {
  TOOL_EFFECTS,
  TOOL_ERROR_TYPES,
  ToolError,
  defineTool,
  throwIfHttpError,
  toolErrorFromResponse,
  type HttpResponseLike,
  type Tool,
  type ToolBreakerOptions,
  type ToolBulkheadOptions,
  type ToolCacheOptions,
  type ToolContext,
  type ToolDefinition,
  type ToolEffect,
  type ToolErrorType,
  type ToolEscape,
  type ToolFailure,
  type ToolRetryOptions,
} from './tools/index.js';

// Models: adapters, model strings, tiers, the simulator.
export {
  MODEL_ERROR_TYPES,
  ModelCallError,
  aiSdkModel,
  anthropicMessages,
  defineModelTiers,
  openaiChat,
  resolveModel,
  simulator,
  type AiSdkModelOptions,
  type AnthropicMessagesOptions,
  type ModelAdapterV1,
  type ModelErrorType,
  type ModelRequest,
  type ModelResponse,
  type ModelTierConfig,
  type ModelTiers,
  type OpenAIChatOptions,
  type ResolveModelOptions,
  type ScriptContext,
  type SimulatedTurn,
  type SimulatorOptions,
  type SimulatorScript,
} from './model/index.js';

// Limits and outcomes: every run is bounded and ends typed.
export {
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  RUN_STATUSES,
  describeReason,
  foldRun,
  type LimitName,
  type RunEvent,
  type RunLimits,
  type RunReason,
  type RunState,
  type RunStatus,
  type UsageTotals,
} from './journal/index.js';

// Approvals and the guard: who must confirm what, and where each argument came from.
export type {
  ExpiryOption,
  GateCall,
  GateOptions,
  GatePolicy,
  GateReason,
  PolicyRecord,
  PolicyVerdict,
  ToolGateOptions,
} from './approval/index.js';
export {
  defineGuard,
  quarantinedRead,
  type ArgumentCondition,
  type ArgumentOrigin,
  type ContextText,
  type Guard,
  type GuardOptions,
  type GuardRule,
  type QuarantinedRead,
  type CallBudget,
  type QuarantinedReadOptions,
  type ToolGuard,
} from './guard/index.js';
export type {
  QuarantineReaderOptions,
  TaskPlannerOptions,
  UntrustedDetector,
  UntrustedHandling,
  UntrustedOptions,
} from './agent/index.js';
export type { ContextOptions } from './context/index.js';

// Decisions: schema-validated choices and the router.
export {
  decide,
  defineRouter,
  memoryDecisionCache,
  storeDecisionCache,
  type Decision,
  type DecisionCache,
  type DecisionOptions,
  type Router,
  type RouterDefinition,
} from './decide/index.js';

// Notifiers: who is told when a call waits for a human, or an alert fires.
export {
  emailNotifier,
  fanOut,
  slackNotifier,
  webhookNotifier,
  type EmailNotifierOptions,
  type Notification,
  type Notifier,
  type SlackNotifierOptions,
  type WebhookNotifierOptions,
} from './notify/index.js';

// Observability and replay: traces over OTLP, alerts, runs re-executed against their journal.
export {
  otlpExporterFromEnv,
  traceExport,
  type Alert,
  type AlertNotifier,
  type AlertRules,
  type RunObserver,
} from './observe/index.js';
export { alertsVia, replayRun, type ReplayDivergence, type ReplayReport } from './engine/index.js';
