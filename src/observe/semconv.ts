/**
 * Every OpenTelemetry name Keel emits, in one place. The GenAI conventions are all at
 * Development stability and still move; Keel follows the version below and records it on every
 * export (resource attribute {@link KEEL_SEMCONV_VERSION_ATTRIBUTE}), so a backend can tell
 * which names it is reading. Keel's own names live under `keel.*`.
 */

/** The GenAI semantic-conventions version these names follow. */
export const GEN_AI_SEMCONV_VERSION = '1.42.0';
export const GEN_AI_SCHEMA_URL = `https://opentelemetry.io/schemas/gen-ai/${GEN_AI_SEMCONV_VERSION}`;

/** Span names are `{operation} {subject}`. */
export const GEN_AI_OPERATION = {
  invokeAgent: 'invoke_agent',
  chat: 'chat',
  executeTool: 'execute_tool',
} as const;

export const ATTR = {
  // GenAI (Development)
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  agentName: 'gen_ai.agent.name',
  agentDescription: 'gen_ai.agent.description',
  conversationId: 'gen_ai.conversation.id',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  usageReasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  // General (Stable)
  errorType: 'error.type',
  serviceName: 'service.name',
  // Keel
  runId: 'keel.run.id',
  runStatus: 'keel.run.status',
  runReason: 'keel.run.reason',
  runSteps: 'keel.run.steps',
  forkOfRunId: 'keel.run.fork_of.id',
  forkOfStep: 'keel.run.fork_of.step',
  step: 'keel.step',
  costUsd: 'keel.cost.usd',
  costKnown: 'keel.cost.known',
  latencyMs: 'keel.latency_ms',
  attempts: 'keel.attempts',
  attempt: 'keel.attempt',
  willRetry: 'keel.will_retry',
  httpStatusCode: 'http.response.status_code',
  retryAfterMs: 'keel.retry_after_ms',
  estimatedInputTokens: 'keel.usage.estimated_input_tokens',
  toolEffect: 'keel.tool.effect',
  toolIdempotencyKey: 'keel.tool.idempotency_key',
  toolReissued: 'keel.tool.reissued',
  errorMessage: 'keel.error.message',
  limitName: 'keel.limit.name',
  limitUsed: 'keel.limit.used',
  limitMax: 'keel.limit.max',
  rejectionReason: 'keel.rejection.reason',
  workerId: 'keel.worker.id',
  claim: 'keel.claim',
  cancelledBy: 'keel.cancelled_by',
  toolCache: 'keel.tool.cache',
  toolDegraded: 'keel.tool.degraded',
  /** True on a rejected call to a tool outside the agent's own set. */
  toolOutOfScope: 'keel.tool.out_of_scope',
  approvalId: 'keel.approval.id',
  approvalGroup: 'keel.approval.group',
  approvalGateReason: 'keel.approval.gate_reason',
  approvalDecision: 'keel.approval.decision',
  approvalDecidedBy: 'keel.approval.decided_by',
  guardPolicy: 'keel.guard.policy',
  guardVerdict: 'keel.guard.verdict',
  guardRule: 'keel.guard.rule',
  alertKind: 'keel.alert.kind',
  alertMetric: 'keel.alert.metric',
  alertValue: 'keel.alert.value',
  alertThreshold: 'keel.alert.threshold',
  alertMessage: 'keel.alert.message',
  contentTruncated: 'keel.content.truncated',
  contextTrigger: 'keel.context.trigger',
  contextBudgetTokens: 'keel.context.budget_tokens',
  contextTotalTokens: 'keel.context.total_tokens',
  contextPinnedTokens: 'keel.context.pinned_tokens',
  contextSummaryTokens: 'keel.context.summary_tokens',
  contextWindowTokens: 'keel.context.window_tokens',
  contextRecalledTokens: 'keel.context.recalled_tokens',
  contextCompressed: 'keel.context.compressed',
  contextSummarisedSteps: 'keel.context.summarised_steps',
  contextRecalled: 'keel.context.recalled',
  contextSummarisedStep: 'keel.context.summarised_step',
  contextSummaryBy: 'keel.context.summary_by',
  trust: 'keel.trust',
  semconvVersion: 'keel.semconv.gen_ai.version',
  decisionId: 'keel.decision.id',
  decisionEntry: 'keel.decision.entry',
  decisionAttempt: 'keel.decision.attempt',
  decisionVote: 'keel.decision.vote',
  decisionConfidence: 'keel.decision.confidence',
  injectionDetector: 'keel.injection.detector',
  injectionScore: 'keel.injection.score',
  injectionMatches: 'keel.injection.matches',
  injectionThreshold: 'keel.injection.threshold',
  monitorFlags: 'keel.monitor.flags',
  monitorArguments: 'keel.monitor.arguments',
  answerFindings: 'keel.answer.findings',
  answerDestinations: 'keel.answer.destinations',
  answerUntrustedSpans: 'keel.answer.untrusted_spans',
  quarantineView: 'keel.quarantine.view',
  quarantineError: 'keel.quarantine.error',
} as const;

/** Span events Keel adds to its spans. */
export const KEEL_EVENT = {
  modelAttemptFailed: 'keel.model.attempt_failed',
  toolAttemptFailed: 'keel.tool.attempt_failed',
  toolRejected: 'keel.tool.rejected',
  outputRejected: 'keel.model.output_rejected',
  limitHit: 'keel.limit.hit',
  runClaimed: 'keel.run.claimed',
  runReleased: 'keel.run.released',
  cancelRequested: 'keel.run.cancel_requested',
  runSuspended: 'keel.run.suspended',
  approvalRequested: 'keel.approval.requested',
  approvalDecided: 'keel.approval.decided',
  guardVerdict: 'keel.guard.verdict',
  alert: 'keel.alert',
  contextAssembled: 'keel.context.assembled',
  decision: 'keel.decision',
  injectionSignal: 'keel.injection.signal',
  actionFlagged: 'keel.monitor.action_flagged',
  toolQuarantined: 'keel.quarantine.tool_result',
  answerGuarded: 'keel.answer.guarded',
} as const;

export const KEEL_SEMCONV_VERSION_ATTRIBUTE = ATTR.semconvVersion;

/** Opt in to message content on spans (off by default), as other GenAI instrumentations do. */
export const CAPTURE_CONTENT_ENV = 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT';
