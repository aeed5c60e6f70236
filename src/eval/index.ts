export {
  TRAJECTORY_MODES,
  approvalRequested,
  assertionSchema,
  contains,
  cost,
  decision,
  escalated,
  guardVerdict,
  icontains,
  isJson,
  javascript,
  latency,
  llmRubric,
  noUntrustedSink,
  not,
  outputMatches,
  regex,
  status,
  steps,
  suppressed,
  tokens,
  toolCalled,
  toolCalls,
  toolNotCalled,
  trajectory,
  type CheckOutcome,
  type EvalAssertion,
  type EvalAssertionType,
  type TrajectoryMode,
} from './assertions.js';
export {
  checkAssertion,
  describeAssertion,
  storedJudge,
  trajectoryDiff,
  type AssertionResult,
  type CheckOptions,
} from './check-assertion.js';
export {
  judgementKey,
  modelJudge,
  type Judge,
  type JudgeRequest,
  type Judgement,
} from './judge.js';
export {
  runView,
  type DecisionView,
  type JournalEntry,
  type RunView,
  type ToolCallFate,
  type ToolCallView,
} from './run-view.js';
export {
  APPROVAL_ANSWERS,
  defineSuite,
  isEvalSuite,
  type ApprovalAnswer,
  type EvalCase,
  type EvalSuite,
  type SuiteDefinition,
} from './suite.js';
export {
  SUPPRESSED_RESULT,
  containsArgs,
  serveFixtures,
  sideEffectInterceptor,
  type ServedResult,
  type SideEffectPolicy,
  type ToolFixture,
} from './tool-fixtures.js';
export {
  caseAssertions,
  caseResult,
  runCase,
  runSuite,
  seeded,
  summarise,
  type AttemptResult,
  type CaseResult,
  type RunSuiteOptions,
  type SuiteResult,
} from './run-suite.js';
export {
  COMPARED_METRICS,
  evalReport,
  type CaseComparison,
  type CaseSummary,
  type ComparedMetric,
  type EvalReport,
  type Regression,
} from './eval-report.js';
export { junitXml } from './junit.js';
export { rescoreEvaluation, storeEvaluation, storedBaseline } from './stored-evaluation.js';
export { goldenCase } from './golden-case.js';
export {
  ATTACKER,
  DEFAULT_MUTATORS,
  INJECTION_TEMPLATES,
  adversarialAssertions,
  adversarialCases,
  contradictoryInstructions,
  edgeCaseArguments,
  injectionInFixtures,
  malformedInput,
  type Mutator,
} from './mutators.js';
export {
  executedSideEffects,
  normaliseOutput,
  shadowReport,
  type ShadowPairReport,
  type ShadowReport,
  type ShadowSide,
} from './shadow-report.js';
export {
  SHADOW_VERDICTS,
  bootstrapInterval,
  pairedMetric,
  signTest,
  type PairedMetric,
  type ShadowVerdict,
} from './shadow-stats.js';
