export type {
  Message,
  MessagePart,
  MessageRole,
  TextPart,
  ToolCallPart,
  ToolResultPart,
  ToolSpec,
} from './messages.js';
export { MESSAGE_ROLES } from './messages.js';
export {
  FINISH_REASONS,
  MODEL_ERROR_TYPES,
  ModelCallError,
  costOf,
  type FinishReason,
  type ModelAdapterV1,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
  type ModelUsage,
} from './model-adapter.js';
export { estimateInputTokens, estimateTextTokens } from './token-estimate.js';
export {
  SIMULATOR_PRICE,
  simulator,
  type ScriptContext,
  type SimulatedToolCall,
  type SimulatedTurn,
  type SimulatorOptions,
  type SimulatorScript,
} from './simulator.js';
export { DEFAULT_OPENAI_TIMEOUT_MS, openaiChat, type OpenAIChatOptions } from './openai-adapter.js';
export { resolveModel } from './resolve-model.js';
export { parseRetryAfter, type HeaderSource, type ParseRetryAfterOptions } from './retry-after.js';
