export {
  createRuntime,
  newRunId,
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
