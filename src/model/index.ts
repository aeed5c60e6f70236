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
  FALLBACK_ERROR_TYPES,
  FINISH_REASONS,
  MODEL_ERROR_TYPES,
  ModelCallError,
  checkUsage,
  costOf,
  type FinishReason,
  type GenerateOptions,
  type ModelAdapterV1,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
  type ModelUsage,
  type PriceTier,
  type TokenPrices,
} from './model-adapter.js';
export { DEFAULT_MODEL_TIMEOUT_MS } from './call-deadline.js';
export { modelFetch } from './model-fetch.js';
export { conversationFold } from './conversation-fold.js';
export { estimateInputTokens, estimateTextTokens } from './token-estimate.js';
export {
  SIMULATOR_PRICE,
  simulator,
  TASK_INTENT_RESPONSE,
  type ScriptContext,
  type SimulatedToolCall,
  type SimulatedTurn,
  type SimulatorOptions,
  type SimulatorScript,
} from './simulator.js';
export { DEFAULT_OPENAI_TIMEOUT_MS, openaiChat, type OpenAIChatOptions } from './openai-adapter.js';
export {
  DEFAULT_MODEL_RETRY,
  modelCallFailure,
  modelRetryDelay,
  type ModelRetryOptions,
} from './model-retry.js';
export { parseRetryAfter, type HeaderSource, type ParseRetryAfterOptions } from './retry-after.js';
export { modelChain, resolveModel, warnOnce, type ResolveModelOptions } from './resolve-model.js';
export {
  DEFAULT_PRICE_FILE,
  createPriceTable,
  defaultPrice,
  loadPriceOverrides,
  parsePriceOverrides,
  checkModelPrice,
  modelPriceProblem,
  priceFileMatch,
  projectPriceTable,
  type PriceLookup,
  type PriceOverride,
  type PriceSource,
  type PriceTable,
  type PriceTableOptions,
} from './price-table.js';
export {
  DEFAULT_ANTHROPIC_TIMEOUT_MS,
  anthropicMessages,
  type AnthropicMessagesOptions,
} from './anthropic-adapter.js';
export {
  OPENAI_ENCODINGS,
  TOKEN_COUNT_METHODS,
  conservativeTokenCount,
  countInputTokens,
  countRequestTokens,
  countTextTokens,
  encodingForModel,
  roughRequestTokens,
  estimateError,
  type OpenAIEncoding,
  type TokenCount,
  type TokenCountMethod,
} from './token-count.js';
export {
  MODEL_TIERS,
  defineModelTiers,
  type ModelTierConfig,
  type ModelTiers,
  type WellKnownTier,
} from './model-tiers.js';
export { aiSdkModel, type AiSdkModelOptions } from './ai-sdk-adapter.js';
