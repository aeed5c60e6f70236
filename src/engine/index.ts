export {
  createRuntime,
  newRunId,
  type ForkOptions,
  type RunInspection,
  type RuntimeApprovalOptions,
  type Runtime,
  type RuntimeOptions,
  type StartRunOptions,
} from './runtime.js';
export type { Worker, WorkerOptions } from './worker.js';
export type { RunResult } from './run-result.js';
export { DEFAULT_MODEL_RETRY, type ModelRetryOptions } from './model-retry.js';
export { idempotencyKey } from './run-executor.js';
export {
  repriceJournal,
  repriceRuns,
  type RepriceRunsOptions,
  type RepricedRun,
} from './reprice.js';
export { alertNotification, alertsVia } from './alert-delivery.js';
export { compareJournals, replayRun, type ReplayDivergence, type ReplayReport } from './replay.js';
