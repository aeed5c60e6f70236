export {
  DEFAULT_TOOL_RETRY,
  DEFAULT_TOOL_TIMEOUT_MS,
  TOOL_EFFECTS,
  defineTool,
  type Tool,
  type ToolContext,
  type ToolDefinition,
  type ToolEffect,
  type ToolRetryOptions,
} from './define-tool.js';
export {
  TOOL_ERROR_TYPES,
  TRANSIENT_TOOL_ERRORS,
  ToolError,
  toToolFailure,
  type ToolErrorType,
  type ToolFailure,
} from './tool-error.js';
export {
  executeTool,
  type ExecuteToolOptions,
  type ToolAttemptHooks,
  type ToolOutcome,
} from './execute-tool.js';
