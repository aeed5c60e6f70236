export { createRuntime, type Runtime } from './runtime.js';
export type { RuntimeAuditOptions } from './housekeeping.js';
export { eraseRun, type EraseReport } from './erase-run.js';
export { pruneStore, type PruneReport, type RetentionOptions } from './retention.js';
export { newRunId } from './run-start.js';
export type {
  ForkOptions,
  RunInspection,
  RuntimeApprovalOptions,
  RuntimeOptions,
  StartRunOptions,
} from './runtime-options.js';
export type { StoreOutage, Worker, WorkerOptions } from './worker.js';
export type { RunResult } from './run-result.js';
export { DEFAULT_MODEL_RETRY, type ModelRetryOptions } from './model-retry.js';
export { idempotencyKey } from './execution.js';
export {
  repriceJournal,
  repriceRuns,
  type RepriceRunsOptions,
  type RepricedRun,
} from './reprice.js';
export { alertNotification, alertsVia } from './alert-delivery.js';
export { compareJournals, replayRun, type ReplayDivergence, type ReplayReport } from './replay.js';
export type { ProviderLimit, ProviderLimits } from './provider-limits.js';
export type {
  InterceptedCall,
  InterceptedResult,
  ToolCallInterceptor,
  ToolCallRoute,
} from './tool-interception.js';
export {
  isJournaledStreamEvent,
  type FollowOptions,
  type RunStreamEvent,
  type RunStreamEventType,
} from './run-stream.js';
export type { FollowRunOptions, RunStream, StreamAbort, StreamRunOptions } from './run-streams.js';
export {
  neutralShadowResult,
  recordedResults,
  shadowRoute,
  type ShadowResult,
} from './shadow-route.js';
export { type ShadowStartOptions, type Shadows } from './shadow-runs.js';
export { inShadowSample } from './shadow-sampling.js';
