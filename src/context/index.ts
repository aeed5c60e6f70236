export {
  CONTEXT_SECTIONS,
  assembleContext,
  largeResults,
  recallTerms,
  resultRef,
  stepsToSummarise,
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
  type ContextReplay,
  type JournaledSummaries,
  type StepSummariser,
  type SummariserConfig,
  type SummariserInput,
} from './context-options.js';
export { rankByRelevance, termsOf, type RecallCandidate } from './recall.js';
export {
  RECALL_TOOL_NAME,
  recallProvenance,
  recallTool,
  type RecalledResult,
} from './recall-tool.js';
export {
  MAX_SUMMARY_CHARS,
  runSummariser,
  summaryPart,
  type SummaryOutcome,
} from './run-summariser.js';
export { SUMMARY_SOURCE, rollUpSteps, summariseStep, type StepSummary } from './summarise-step.js';
export { tokenCounter, type TokenCounter } from './token-counter.js';
