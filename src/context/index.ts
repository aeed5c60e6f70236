export {
  CONTEXT_SECTIONS,
  assembleContext,
  resultRef,
  type AssembleContextInput,
  type ContextAssembly,
  type ContextSection,
  type ContextSectionName,
} from './assemble-context.js';
export {
  DEFAULT_CONTEXT_WINDOW_TOKENS,
  budgetTokens,
  resolveContextOptions,
  type ContextConfig,
  type ContextOptions,
} from './context-options.js';
export { rankByRelevance, termsOf, type RecallCandidate } from './recall.js';
export { SUMMARY_SOURCE, rollUpSteps, summariseStep, type StepSummary } from './summarise-step.js';
export { tokenCounter, type TokenCounter } from './token-counter.js';
