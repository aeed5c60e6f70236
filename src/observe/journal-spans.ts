import { canonicalJson } from '../core/index.js';
import { num, record, text, type JournalEntry, type JournalEvent } from './journal.js';
import { ATTR, GEN_AI_OPERATION, KEEL_EVENT } from './semconv.js';
import {
  spanIdOf,
  traceIdOf,
  type Attributes,
  type SpanKind,
  type SpanLink,
  type SpanStatus,
  type TraceSpan,
} from './trace-span.js';

/** How spans are derived from a journal: content capture and its size cap. */
export interface SpanOptions {
  /** Put message content, tool arguments and results on spans. Off by default. */
  readonly captureContent?: boolean | undefined;
  /** Longest content string kept when capturing, in characters (default 8192). */
  readonly maxContentChars?: number | undefined;
  /** Leave out spans still open when the journal ends (for exporting a run in progress). */
  readonly closedOnly?: boolean | undefined;
  /**
   * What each model call was sent, as it was sent (after context assembly), by the key of its
   * span (`chat:<step>`, `summary:<step>:<summarisedStep>`): put on the span when capturing
   * content. The journal does not keep requests; `traceExport` collects them as calls are made.
   */
  readonly inputs?: ReadonlyMap<string, ChatInput> | undefined;
}

/** One model call's input as span content: `gen_ai.input.messages` and the system instructions. */
export interface ChatInput {
  /** JSON text of the GenAI input messages (truncated like all captured content). */
  readonly messages: string;
  /** JSON text of `gen_ai.system_instructions`, when the call had instructions. */
  readonly system?: string | undefined;
}

export const DEFAULT_MAX_CONTENT_CHARS = 8192;

interface OpenSpan {
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  name: string;
  readonly kind: SpanKind;
  startMs: number;
  endMs: number | undefined;
  readonly attributes: Attributes;
  readonly events: { name: string; timeMs: number; attributes: Attributes }[];
  readonly links: SpanLink[];
  status: SpanStatus;
}

/** What a mapping sees: the spans built so far and the entry being read. */
export interface TraceBuilder {
  readonly runId: string;
  /** Commit time of the entry being mapped. */
  readonly at: number;
  /** Commit time of the entry before it (the moment the engine moved on to this one). */
  readonly previousAt: number;
  /** The span at `key`, if opened. `run` is the run's `invoke_agent` span (always open). */
  span(key: string): OpenSpan | undefined;
  open(
    key: string,
    init: { name: string; kind: SpanKind; startMs: number; attributes: Attributes },
  ): OpenSpan;
  close(key: string, endMs: number, status?: SpanStatus): void;
  event(key: string, name: string, attributes: Attributes): void;
  /** `value` as span content when capture is on (JSON-stringified, truncated); else undefined. */
  content(value: unknown): string | undefined;
  /** The input of the model call whose span is at `key`, when capture is on and it is known. */
  input(key: string): ChatInput | undefined;
}

export type EventMapping = (event: JournalEvent, trace: TraceBuilder) => void;

const FINISH_REASONS: Record<string, string> = { tool_calls: 'tool_call' };

const chatKey = (event: JournalEvent): string => `chat:${String(event.step)}`;
const toolKey = (event: JournalEvent): string =>
  `tool:${String(event.step)}:${String(event.callId)}`;

/** A chat span for the event's step, opened at the step's start if it is not open yet. */
function chatSpan(event: JournalEvent, trace: TraceBuilder, startMs: number): OpenSpan {
  const existing = trace.span(chatKey(event));
  if (existing) return existing;
  // The run's model, known when the span starts (samplers may read these).
  const run = trace.span('run');
  const provider = text(run?.attributes[ATTR.providerName]);
  const model = text(run?.attributes[ATTR.requestModel]);
  const input = trace.input(chatKey(event));
  return trace.open(chatKey(event), {
    name: model === undefined ? GEN_AI_OPERATION.chat : `${GEN_AI_OPERATION.chat} ${model}`,
    kind: 'client',
    startMs,
    attributes: defined({
      [ATTR.operationName]: GEN_AI_OPERATION.chat,
      [ATTR.step]: num(event.step) ?? 0,
      [ATTR.providerName]: provider,
      [ATTR.requestModel]: model,
      [ATTR.inputMessages]: input?.messages,
      [ATTR.systemInstructions]: input?.system,
    }),
  });
}

/** An event on a call's tool span (opened if the call has none yet); unset attributes left out. */
function toolEvent(
  event: JournalEvent,
  trace: TraceBuilder,
  name: string,
  attributes: Record<string, AttributeInput>,
): void {
  toolSpan(event, trace, trace.at);
  trace.event(toolKey(event), name, defined(attributes));
}

function toolSpan(event: JournalEvent, trace: TraceBuilder, startMs: number): OpenSpan {
  const name = text(event.toolName) ?? 'unknown';
  return (
    trace.span(toolKey(event)) ??
    trace.open(toolKey(event), {
      name: `${GEN_AI_OPERATION.executeTool} ${name}`,
      kind: 'internal',
      startMs,
      attributes: {
        [ATTR.operationName]: GEN_AI_OPERATION.executeTool,
        [ATTR.toolName]: name,
        [ATTR.toolCallId]: text(event.callId) ?? '',
        [ATTR.toolType]: 'function',
        [ATTR.step]: num(event.step) ?? 0,
      },
    })
  );
}

function defined(attributes: Record<string, AttributeInput>): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}
type AttributeInput = Attributes[string] | undefined;

/** The strings of a list (anything else left out). */
function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

/**
 * How each journal event becomes spans and span events: the one table to extend when the
 * journal gains an event type. Types not listed here leave no trace (old readers stay valid).
 */
export const EVENT_SPAN_MAPPINGS: Readonly<Record<string, EventMapping>> = {
  run_started(event, trace) {
    const run = trace.span('run');
    if (!run) return;
    const agent = text(event.agent) ?? 'agent';
    const model = record(event.model);
    run.name = `${GEN_AI_OPERATION.invokeAgent} ${agent}`;
    run.startMs = num(event.startedAt) ?? trace.at;
    Object.assign(
      run.attributes,
      defined({
        [ATTR.agentName]: agent,
        [ATTR.providerName]: text(model.provider),
        [ATTR.requestModel]: text(model.modelId),
        [ATTR.inputMessages]: trace.content([
          { role: 'user', parts: [{ type: 'text', content: text(event.task) ?? '' }] },
        ]),
      }),
    );
    const forkOf = record(event.forkOf);
    const forkRunId = text(forkOf.runId);
    if (forkRunId !== undefined) {
      run.attributes[ATTR.forkOfRunId] = forkRunId;
      run.attributes[ATTR.forkOfStep] = num(forkOf.step) ?? 0;
      run.links.push({
        traceId: traceIdOf(forkRunId),
        spanId: spanIdOf(forkRunId, 'run'),
        attributes: { [ATTR.forkOfStep]: num(forkOf.step) ?? 0 },
      });
    }
  },
  run_claimed(event, trace) {
    trace.event('run', KEEL_EVENT.runClaimed, {
      [ATTR.workerId]: text(event.workerId) ?? '',
      [ATTR.claim]: num(event.claim) ?? 0,
    });
  },
  run_released(event, trace) {
    trace.event('run', KEEL_EVENT.runReleased, { [ATTR.workerId]: text(event.workerId) ?? '' });
  },
  model_failed(event, trace) {
    const span = chatSpan(event, trace, trace.previousAt);
    span.attributes[ATTR.attempts] = num(event.attempt) ?? 1;
    trace.event(
      chatKey(event),
      KEEL_EVENT.modelAttemptFailed,
      defined({
        [ATTR.attempt]: num(event.attempt),
        [ATTR.errorType]: text(event.errorType),
        [ATTR.errorMessage]: text(event.message),
        [ATTR.httpStatusCode]: num(event.statusCode),
        [ATTR.retryAfterMs]: num(event.retryAfterMs),
        [ATTR.willRetry]: event.willRetry === true,
      }),
    );
    if (event.willRetry !== true) {
      span.attributes[ATTR.errorType] = text(event.errorType) ?? '_OTHER';
      trace.close(chatKey(event), trace.at, { code: 'error', message: text(event.message) });
    }
  },
  model_called(event, trace) {
    const latencyMs = num(event.latencyMs) ?? 0;
    const span = chatSpan(event, trace, trace.at - latencyMs);
    const usage = record(event.usage);
    const finishReason = text(event.finishReason) ?? 'other';
    Object.assign(
      span.attributes,
      defined({
        [ATTR.responseModel]: text(event.responseModel),
        [ATTR.responseId]: text(event.responseId),
        [ATTR.responseFinishReasons]: [FINISH_REASONS[finishReason] ?? finishReason],
        [ATTR.usageInputTokens]: num(usage.inputTokens) ?? 0,
        [ATTR.usageOutputTokens]: num(usage.outputTokens) ?? 0,
        [ATTR.usageCacheReadInputTokens]: num(usage.cacheReadTokens),
        [ATTR.usageCacheCreationInputTokens]: num(usage.cacheWriteTokens),
        [ATTR.usageReasoningOutputTokens]: num(usage.reasoningTokens),
        [ATTR.costUsd]: num(event.costUsd),
        [ATTR.costKnown]: num(event.costUsd) !== undefined,
        [ATTR.latencyMs]: latencyMs,
        [ATTR.attempts]: num(event.attempts) ?? 1,
        [ATTR.estimatedInputTokens]: num(event.estimatedInputTokens),
        [ATTR.outputMessages]: trace.content([
          {
            role: 'assistant',
            parts: (Array.isArray(event.content) ? event.content : []).map((part) => {
              const value = record(part);
              return value.type === 'tool_call'
                ? {
                    type: 'tool_call',
                    id: value.callId,
                    name: value.toolName,
                    arguments: value.arguments,
                  }
                : { type: 'text', content: value.text };
            }),
            finish_reason: FINISH_REASONS[finishReason] ?? finishReason,
          },
        ]),
      }),
    );
    trace.close(chatKey(event), trace.at, { code: 'unset' });
  },
  tool_requested(event, trace) {
    const span = toolSpan(event, trace, trace.at);
    const arguments_ = trace.content(event.input);
    if (arguments_ !== undefined) span.attributes[ATTR.toolCallArguments] = arguments_;
    const effect = text(event.effect);
    if (effect !== undefined) span.attributes[ATTR.toolEffect] = effect;
  },
  tool_rejected(event, trace) {
    const error = record(event.error);
    trace.event(
      'run',
      KEEL_EVENT.toolRejected,
      defined({
        [ATTR.step]: num(event.step),
        [ATTR.toolName]: text(event.toolName),
        [ATTR.toolCallId]: text(event.callId),
        [ATTR.errorType]: text(error.type),
        [ATTR.errorMessage]: text(error.message),
        [ATTR.toolOutOfScope]: event.outOfScope === true ? true : undefined,
      }),
    );
  },
  tool_started(event, trace) {
    const span = toolSpan(event, trace, trace.at);
    if (num(event.attempt) === 1 && event.reissued !== true) span.startMs = trace.at;
    span.attributes[ATTR.attempts] = num(event.attempt) ?? 1;
    span.attributes[ATTR.toolIdempotencyKey] = text(event.idempotencyKey) ?? '';
    if (event.reissued === true) span.attributes[ATTR.toolReissued] = true;
  },
  tool_finished(event, trace) {
    const latencyMs = num(event.latencyMs) ?? 0;
    const span = toolSpan(event, trace, trace.at - latencyMs);
    Object.assign(
      span.attributes,
      defined({
        [ATTR.attempts]: num(event.attempts) ?? 1,
        [ATTR.latencyMs]: latencyMs,
        [ATTR.toolCallResult]: trace.content(event.content),
        [ATTR.toolCache]: text(event.cache),
        [ATTR.toolDegraded]: text(record(event.degraded).type),
      }),
    );
    trace.close(toolKey(event), trace.at, { code: 'unset' });
  },
  approval_requested(event, trace) {
    toolEvent(event, trace, KEEL_EVENT.approvalRequested, {
      [ATTR.approvalId]: text(event.approvalId),
      [ATTR.approvalGroup]: text(event.approverGroup),
      [ATTR.approvalGateReason]: text(record(event.reason).type),
    });
  },
  approval_decided(event, trace) {
    toolEvent(event, trace, KEEL_EVENT.approvalDecided, {
      [ATTR.approvalId]: text(event.approvalId),
      [ATTR.approvalDecision]: text(event.decision),
      [ATTR.approvalDecidedBy]: text(event.decidedBy),
    });
    // A denied or expired call never runs: its span ends here, failed.
    const decision = text(event.decision);
    if (decision !== 'denied' && decision !== 'expired') return;
    const span = trace.span(toolKey(event));
    if (span) span.attributes[ATTR.errorType] = `approval_${decision}`;
    trace.close(toolKey(event), trace.at, {
      code: 'error',
      message:
        text(event.reason) ??
        (decision === 'expired' ? 'nobody approved it in time' : 'an approver denied it'),
    });
  },
  guard_verdict(event, trace) {
    toolEvent(event, trace, KEEL_EVENT.guardVerdict, {
      [ATTR.guardPolicy]: text(event.policy),
      [ATTR.guardVerdict]: text(event.verdict),
      [ATTR.guardRule]: text(event.rule),
    });
  },
  decision_recorded(event, trace) {
    const entry = record(event.entry);
    toolEvent(event, trace, KEEL_EVENT.decision, {
      [ATTR.decisionId]: text(event.decisionId),
      [ATTR.decisionEntry]: text(entry.type),
      [ATTR.decisionVote]: num(entry.vote),
      [ATTR.decisionAttempt]: num(entry.attempt),
      [ATTR.decisionConfidence]: num(entry.confidence),
      [ATTR.errorMessage]: text(entry.error) ?? text(entry.reason),
    });
  },
  injection_signal(event, trace) {
    toolEvent(event, trace, KEEL_EVENT.injectionSignal, {
      [ATTR.injectionDetector]: text(event.detector),
      [ATTR.injectionScore]: num(event.score),
      [ATTR.injectionMatches]: strings(event.matches),
      [ATTR.injectionThreshold]: num(event.threshold),
    });
  },
  action_flagged(event, trace) {
    const flags = Array.isArray(event.flags) ? event.flags.map((flag) => record(flag)) : [];
    toolEvent(event, trace, KEEL_EVENT.actionFlagged, {
      [ATTR.monitorFlags]: flags.map((flag) => text(flag.kind) ?? 'unknown'),
      [ATTR.monitorArguments]: flags.flatMap((flag) => text(flag.argument) ?? []),
    });
  },
  answer_guarded(event, trace) {
    const findings = Array.isArray(event.findings) ? event.findings.map((f) => record(f)) : [];
    trace.event('run', KEEL_EVENT.answerGuarded, {
      [ATTR.answerFindings]: findings.map(
        (finding) => `${text(finding.kind) ?? 'unknown'}:${text(finding.action) ?? 'unknown'}`,
      ),
      [ATTR.answerDestinations]: findings.flatMap((finding) => text(finding.destination) ?? []),
      [ATTR.answerUntrustedSpans]: Array.isArray(event.spans) ? event.spans.length : 0,
    });
  },
  tool_quarantined(event, trace) {
    toolEvent(event, trace, KEEL_EVENT.toolQuarantined, {
      [ATTR.quarantineView]: trace.content(event.view),
      [ATTR.quarantineError]: text(event.error),
    });
  },
  run_suspended(event, trace) {
    trace.event('run', KEEL_EVENT.runSuspended, { [ATTR.workerId]: text(event.workerId) ?? '' });
  },
  tool_failed(event, trace) {
    const span = toolSpan(event, trace, trace.at);
    const error = record(event.error);
    if (event.final !== true) {
      trace.event(
        toolKey(event),
        KEEL_EVENT.toolAttemptFailed,
        defined({
          [ATTR.attempt]: num(event.attempt),
          [ATTR.errorType]: text(error.type),
          [ATTR.errorMessage]: text(error.message),
          [ATTR.retryAfterMs]: num(error.retryAfterMs),
        }),
      );
      return;
    }
    span.attributes[ATTR.attempts] = num(event.attempt) ?? 1;
    span.attributes[ATTR.errorType] = text(error.type) ?? '_OTHER';
    trace.close(toolKey(event), trace.at, { code: 'error', message: text(error.message) });
  },
  model_output_rejected(event, trace) {
    trace.event('run', KEEL_EVENT.outputRejected, {
      [ATTR.step]: num(event.step) ?? 0,
      [ATTR.rejectionReason]: text(event.reason) ?? '',
    });
  },
  context_assembled(event, trace) {
    const sections = record(event.sections);
    const tokens = (name: string): number => num(record(sections[name]).tokens) ?? 0;
    trace.event('run', KEEL_EVENT.contextAssembled, {
      [ATTR.step]: num(event.step) ?? 0,
      [ATTR.contextTrigger]: text(event.trigger) ?? 'step',
      [ATTR.contextBudgetTokens]: num(event.budgetTokens) ?? 0,
      [ATTR.contextTotalTokens]: num(event.totalTokens) ?? 0,
      [ATTR.contextPinnedTokens]: tokens('pinned'),
      [ATTR.contextSummaryTokens]: tokens('summaries'),
      [ATTR.contextWindowTokens]: tokens('window'),
      [ATTR.contextRecalledTokens]: tokens('recalled'),
      [ATTR.contextCompressed]: event.compressed === true,
      [ATTR.contextSummarisedSteps]: num(event.summarisedSteps) ?? 0,
      [ATTR.contextRecalled]: Array.isArray(event.recalled)
        ? event.recalled.filter((ref): ref is string => typeof ref === 'string')
        : [],
    });
  },
  step_summarised(event, trace) {
    // A summariser call is a model call of its own: its span carries its usage and cost.
    const key = `summary:${String(event.step)}:${String(event.summarisedStep)}`;
    const model = text(event.model);
    const usage = record(event.usage);
    const fallback = record(event.fallback);
    const input = trace.input(key);
    trace.open(key, {
      name: model === undefined ? 'summarise_step' : `${GEN_AI_OPERATION.chat} ${model}`,
      kind: model === undefined ? 'internal' : 'client',
      startMs: trace.previousAt,
      attributes: defined({
        [ATTR.operationName]: model === undefined ? undefined : GEN_AI_OPERATION.chat,
        [ATTR.requestModel]: model,
        [ATTR.inputMessages]: input?.messages,
        [ATTR.systemInstructions]: input?.system,
        [ATTR.step]: num(event.step) ?? 0,
        [ATTR.contextSummarisedStep]: num(event.summarisedStep) ?? 0,
        [ATTR.contextSummaryBy]: text(event.by),
        [ATTR.trust]: text(record(event.provenance).trust),
        [ATTR.usageInputTokens]: num(usage.inputTokens),
        [ATTR.usageOutputTokens]: num(usage.outputTokens),
        [ATTR.costUsd]: num(event.costUsd),
        [ATTR.errorType]: text(fallback.errorType),
      }),
    });
    const failed = text(fallback.errorType) !== undefined;
    trace.close(
      key,
      trace.at,
      failed ? { code: 'error', message: text(fallback.message) } : { code: 'unset' },
    );
  },
  limit_hit(event, trace) {
    trace.event('run', KEEL_EVENT.limitHit, {
      [ATTR.limitName]: text(event.limit) ?? '',
      [ATTR.limitUsed]: num(event.used) ?? 0,
      [ATTR.limitMax]: num(event.max) ?? 0,
    });
  },
  cancel_requested(event, trace) {
    trace.event('run', KEEL_EVENT.cancelRequested, { [ATTR.cancelledBy]: text(event.by) ?? '' });
  },
  run_finished(event, trace) {
    const run = trace.span('run');
    if (!run) return;
    const usage = record(event.usage);
    const reason = record(event.reason);
    const status = text(event.status) ?? 'failed';
    Object.assign(
      run.attributes,
      defined({
        [ATTR.runStatus]: status,
        [ATTR.runReason]: text(reason.type),
        [ATTR.runSteps]: num(event.steps),
        [ATTR.usageInputTokens]: num(usage.inputTokens),
        [ATTR.usageOutputTokens]: num(usage.outputTokens),
        [ATTR.costUsd]: num(usage.costUsd),
        [ATTR.costKnown]: usage.costKnown === true,
        [ATTR.outputMessages]:
          typeof event.output === 'string'
            ? trace.content([
                { role: 'assistant', parts: [{ type: 'text', content: event.output }] },
              ])
            : undefined,
      }),
    );
    // A run that failed, or was stopped by a limit, ends in error with the typed reason.
    const failed = status === 'failed' || status === 'stopped';
    const limit = text(reason.limit);
    if (failed) {
      run.attributes[ATTR.errorType] = text(reason.errorType) ?? text(reason.type) ?? '_OTHER';
      if (limit !== undefined) run.attributes[ATTR.limitName] = limit;
    }
    const message =
      text(reason.message) ??
      (limit === undefined
        ? text(reason.type)
        : `limit ${limit} reached (${num(reason.used) ?? '?'} of ${num(reason.max) ?? '?'})`);
    trace.close('run', trace.at, failed ? { code: 'error', message } : undefined);
  },
};

/**
 * The spans of one run, derived from its journal: an `invoke_agent {agent}` root, a
 * `chat {model}` child per model step (CLIENT) and an `execute_tool {tool}` child per tool call
 * (INTERNAL), with retries, rejections and limits as `keel.*` span events. Times come from the
 * journal's commit times and recorded latencies. Spans still open when the journal ends (a
 * running run) end at its last entry with status unset.
 *
 * ```ts
 * const spans = spansFromJournal(runId, await store.readEvents(runId));
 * ```
 */
export function spansFromJournal(
  runId: string,
  entries: readonly JournalEntry[],
  options: SpanOptions = {},
): TraceSpan[] {
  const traceId = traceIdOf(runId);
  const spans = new Map<string, OpenSpan>();
  const maxContent = options.maxContentChars ?? DEFAULT_MAX_CONTENT_CHARS;
  const firstAt = entries[0]?.at ?? 0;
  const lastAt = entries.at(-1)?.at ?? firstAt;
  const runSpanId = spanIdOf(runId, 'run');
  const cursor = { at: firstAt, previousAt: firstAt };

  const builder: TraceBuilder = {
    runId,
    get at() {
      return cursor.at;
    },
    get previousAt() {
      return cursor.previousAt;
    },
    span: (key) => spans.get(key),
    open(key, init) {
      const span: OpenSpan = {
        spanId: spanIdOf(runId, key),
        parentSpanId: key === 'run' ? undefined : runSpanId,
        name: init.name,
        kind: init.kind,
        startMs: init.startMs,
        endMs: undefined,
        attributes: init.attributes,
        events: [],
        links: [],
        status: { code: 'unset' },
      };
      spans.set(key, span);
      return span;
    },
    close(key, endMs, status) {
      const span = spans.get(key);
      if (!span) return;
      span.endMs = endMs;
      if (status) span.status = status;
    },
    event(key, name, attributes) {
      spans.get(key)?.events.push({ name, timeMs: cursor.at, attributes });
    },
    content(value) {
      if (options.captureContent !== true) return undefined;
      const full = typeof value === 'string' ? value : canonicalJson(value);
      return full.length <= maxContent ? full : `${full.slice(0, maxContent)}…`;
    },
    input(key) {
      return options.captureContent === true ? options.inputs?.get(key) : undefined;
    },
  };

  builder.open('run', {
    name: GEN_AI_OPERATION.invokeAgent,
    kind: 'internal',
    startMs: firstAt,
    attributes: {
      [ATTR.operationName]: GEN_AI_OPERATION.invokeAgent,
      [ATTR.runId]: runId,
      [ATTR.conversationId]: runId,
    },
  });
  for (const entry of entries) {
    cursor.previousAt = cursor.at;
    cursor.at = entry.at;
    const type = entry.event.type;
    if (Object.hasOwn(EVENT_SPAN_MAPPINGS, type)) EVENT_SPAN_MAPPINGS[type]?.(entry.event, builder);
  }
  const out: TraceSpan[] = [];
  for (const span of spans.values()) {
    if (options.closedOnly === true && span.endMs === undefined) continue;
    const endMs = span.endMs ?? lastAt;
    out.push({
      traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId,
      name: span.name,
      kind: span.kind,
      startMs: Math.min(span.startMs, endMs),
      endMs,
      attributes: span.attributes,
      events: span.events,
      links: span.links,
      status: span.status,
    });
  }
  return out;
}
