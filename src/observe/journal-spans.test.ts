import { describe, expect, it } from 'vitest';
import { decodeTraceRequest } from '../testing/index.js';
import {
  ATTR,
  EVENT_SPAN_MAPPINGS,
  GEN_AI_SCHEMA_URL,
  KEEL_EVENT,
  encodeTraceRequest,
  spanIdOf,
  spanTree,
  spansFromJournal,
  traceIdOf,
  type JournalEntry,
  type TraceSpan,
} from './index.js';

const T0 = 1_764_000_000_000;

/** A journal: a model call that is retried once, a tool that fails for good, a final answer. */
function journal(): JournalEntry[] {
  const events: Record<string, unknown>[] = [
    {
      type: 'run_started',
      agent: 'refunds',
      task: 'Refund order A-1',
      model: { provider: 'openai', modelId: 'gpt-4o-mini' },
      limits: {},
      startedAt: T0,
    },
    { type: 'run_claimed', workerId: 'w1', claim: 1 },
    {
      type: 'model_failed',
      step: 0,
      attempt: 1,
      errorType: 'rate_limited',
      message: 'slow down',
      statusCode: 429,
      retryAfterMs: 50,
      willRetry: true,
    },
    {
      type: 'model_called',
      step: 0,
      content: [{ type: 'tool_call', callId: 'c1', toolName: 'lookup', arguments: '{"id":"A-1"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 120, outputTokens: 8, cacheReadTokens: 100, reasoningTokens: 3 },
      costUsd: 0.0004,
      estimatedInputTokens: 118,
      latencyMs: 40,
      attempts: 2,
      responseId: 'resp_1',
      responseModel: 'gpt-4o-mini-2024-07-18',
    },
    {
      type: 'tool_requested',
      step: 0,
      callId: 'c1',
      index: 0,
      toolName: 'lookup',
      input: { id: 'A-1', note: 'x'.repeat(100) },
      effect: 'read',
    },
    {
      type: 'tool_started',
      step: 0,
      callId: 'c1',
      toolName: 'lookup',
      idempotencyKey: 'k',
      attempt: 1,
    },
    {
      type: 'tool_failed',
      step: 0,
      callId: 'c1',
      toolName: 'lookup',
      error: { type: 'not_found', message: 'no order A-1' },
      attempt: 1,
      final: true,
    },
    { type: 'some_future_event', step: 0 },
    {
      type: 'model_called',
      step: 1,
      content: [{ type: 'text', text: 'No such order.' }],
      finishReason: 'stop',
      usage: { inputTokens: 150, outputTokens: 6 },
      costUsd: null,
      estimatedInputTokens: 149,
      latencyMs: 30,
      attempts: 1,
    },
    {
      type: 'run_finished',
      status: 'succeeded',
      reason: { type: 'final_answer' },
      output: 'No such order.',
      usage: { inputTokens: 270, outputTokens: 14, costUsd: 0.0004, costKnown: false },
      steps: 2,
    },
  ];
  return entriesOf(events);
}

/** Journal entries for `events`, numbered from 1 and 100 ms apart from T0. */
function entriesOf(events: readonly Record<string, unknown>[]): JournalEntry[] {
  return events.map((event, index) => ({
    seq: index + 1,
    at: T0 + index * 100,
    event: event as JournalEntry['event'],
  }));
}

function byName(spans: readonly TraceSpan[], name: string): TraceSpan {
  const span = spans.find((candidate) => candidate.name === name);
  if (!span) throw new Error(`no span ${name}`);
  return span;
}

describe('spansFromJournal', () => {
  const spans = spansFromJournal('run_1', journal());

  it('derives one invoke_agent root with chat and execute_tool children', () => {
    expect(spans.map((span) => [span.name, span.kind])).toEqual([
      ['invoke_agent refunds', 'internal'],
      ['chat gpt-4o-mini', 'client'],
      ['execute_tool lookup', 'internal'],
      ['chat gpt-4o-mini', 'client'],
    ]);
    const [root] = spanTree(spans);
    expect(root?.children.map((span) => span.name)).toEqual([
      'chat gpt-4o-mini',
      'execute_tool lookup',
      'chat gpt-4o-mini',
    ]);
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([traceIdOf('run_1')]));
    expect(root?.spanId).toBe(spanIdOf('run_1', 'run'));
    // Deriving again gives the same spans: ids are a function of the run.
    expect(spansFromJournal('run_1', journal())).toEqual(spans);
  });

  it('puts usage incl. cache and reasoning, finish reasons, response id and cost on chat spans', () => {
    const chat = spans[1];
    expect(chat?.attributes).toEqual({
      [ATTR.operationName]: 'chat',
      [ATTR.step]: 0,
      [ATTR.providerName]: 'openai',
      [ATTR.requestModel]: 'gpt-4o-mini',
      [ATTR.responseModel]: 'gpt-4o-mini-2024-07-18',
      [ATTR.responseId]: 'resp_1',
      [ATTR.responseFinishReasons]: ['tool_call'],
      [ATTR.usageInputTokens]: 120,
      [ATTR.usageOutputTokens]: 8,
      [ATTR.usageCacheReadInputTokens]: 100,
      [ATTR.usageReasoningOutputTokens]: 3,
      [ATTR.costUsd]: 0.0004,
      [ATTR.costKnown]: true,
      [ATTR.latencyMs]: 40,
      [ATTR.attempts]: 2,
      [ATTR.estimatedInputTokens]: 118,
    });
    // The retried attempt is an event; the span covers both attempts.
    expect(chat?.events.map((event) => [event.name, event.attributes[ATTR.errorType]])).toEqual([
      [KEEL_EVENT.modelAttemptFailed, 'rate_limited'],
    ]);
    expect(chat?.startMs).toBe(T0 + 100);
    expect(chat?.endMs).toBe(T0 + 300);
    expect(spans[3]?.attributes[ATTR.costKnown]).toBe(false);
  });

  it('marks a failed tool call with error.type and an error status', () => {
    const tool = byName(spans, 'execute_tool lookup');
    expect(tool.attributes).toMatchObject({
      [ATTR.toolName]: 'lookup',
      [ATTR.toolCallId]: 'c1',
      [ATTR.toolType]: 'function',
      [ATTR.errorType]: 'not_found',
    });
    expect(tool.status).toEqual({ code: 'error', message: 'no order A-1' });
    expect(spans[0]?.status).toEqual({ code: 'unset' });
  });

  it('flags a rejected call to a tool outside the agent set, and only that one', () => {
    const rejected = (toolName: string, outOfScope: boolean) => ({
      type: 'tool_rejected',
      step: 0,
      callId: `c_${toolName}`,
      index: 0,
      toolName,
      error: { type: outOfScope ? 'not_found' : 'invalid_input', message: 'refused' },
      ...(outOfScope ? { outOfScope: true } : {}),
    });
    const entries = journal().slice(0, 2);
    entries.push(
      { seq: 3, at: T0 + 300, event: rejected('issue_refund', true) },
      { seq: 4, at: T0 + 400, event: rejected('lookup', false) },
    );
    const root = spansFromJournal('run_2', entries)[0];
    const events = (root?.events ?? []).filter((event) => event.name === KEEL_EVENT.toolRejected);
    expect(events.map((event) => event.attributes[ATTR.toolOutOfScope])).toEqual([true, undefined]);
  });

  it('marks a model call that failed for good, and the run it ended', () => {
    const entries = journal().slice(0, 3);
    const failedCall = {
      type: 'model_failed',
      step: 0,
      attempt: 2,
      errorType: 'server_error',
      message: 'upstream 500',
      statusCode: 500,
      willRetry: false,
    };
    const finished = {
      type: 'run_finished',
      status: 'failed',
      reason: { type: 'model_error', errorType: 'server_error', message: 'upstream 500' },
      output: null,
      usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true },
      steps: 0,
    };
    for (const event of [failedCall, finished]) {
      entries.push({ seq: entries.length + 1, at: T0 + entries.length * 100, event });
    }
    const [root, chat] = spansFromJournal('run_3', entries);
    expect(chat?.name).toBe('chat gpt-4o-mini');
    expect(chat?.attributes).toMatchObject({
      [ATTR.providerName]: 'openai',
      [ATTR.errorType]: 'server_error',
      [ATTR.attempts]: 2,
    });
    expect(chat?.events).toHaveLength(2);
    expect(chat?.status).toEqual({ code: 'error', message: 'upstream 500' });
    expect(root?.attributes[ATTR.errorType]).toBe('server_error');
    expect(root?.status).toEqual({ code: 'error', message: 'upstream 500' });
  });

  it('fails the tool span of a denied or an expired approval, with error.type', () => {
    const held = (decision: string, reason?: string): Record<string, unknown>[] => [
      journal()[0]?.event as Record<string, unknown>,
      {
        type: 'tool_requested',
        step: 0,
        callId: 'c1',
        index: 0,
        toolName: 'issue_refund',
        input: { orderId: 'A-1' },
        effect: 'irreversible',
      },
      {
        type: 'approval_requested',
        step: 0,
        callId: 'c1',
        index: 0,
        toolName: 'issue_refund',
        approvalId: 'apr_1',
        argsHash: 'h',
        reason: { type: 'effect', effect: 'irreversible' },
        approverGroup: 'finance',
        expiresAt: T0 + 60_000,
        onExpiry: { type: 'deny' },
      },
      {
        type: 'approval_decided',
        step: 0,
        callId: 'c1',
        toolName: 'issue_refund',
        approvalId: 'apr_1',
        decision,
        decidedBy: decision === 'expired' ? 'expiry' : 'ana',
        ...(reason === undefined ? {} : { reason }),
        at: T0 + 300,
      },
    ];
    const toolOf = (events: Record<string, unknown>[]) => {
      const tool = byName(
        spansFromJournal('run_appr', entriesOf(events)),
        'execute_tool issue_refund',
      );
      return { errorType: tool.attributes[ATTR.errorType], status: tool.status, endMs: tool.endMs };
    };
    expect(toolOf(held('denied', 'not this customer'))).toEqual({
      errorType: 'approval_denied',
      status: { code: 'error', message: 'not this customer' },
      endMs: T0 + 300,
    });
    expect(toolOf(held('expired'))).toEqual({
      errorType: 'approval_expired',
      status: { code: 'error', message: 'nobody approved it in time' },
      endMs: T0 + 300,
    });
    expect(toolOf(held('approved')).status).toEqual({ code: 'unset' });
  });

  it('ends a run stopped by a limit in error, with error.type and the limit', () => {
    const entries = journal().slice(0, 4);
    entries.push({
      seq: 5,
      at: T0 + 400,
      event: {
        type: 'run_finished',
        status: 'stopped',
        reason: { type: 'limit', limit: 'maxIterations', used: 1, max: 1 },
        output: null,
        usage: { inputTokens: 120, outputTokens: 8, costUsd: 0.0004, costKnown: true },
        steps: 1,
      },
    });
    const [root] = spansFromJournal('run_stop', entries);
    expect([
      root?.attributes[ATTR.errorType],
      root?.attributes[ATTR.limitName],
      root?.status,
    ]).toEqual([
      'limit',
      'maxIterations',
      { code: 'error', message: 'limit maxIterations reached (1 of 1)' },
    ]);
    const cancelled = journal().slice(0, 4);
    cancelled.push({
      seq: 5,
      at: T0 + 400,
      event: {
        type: 'run_finished',
        status: 'cancelled',
        reason: { type: 'cancelled', by: 'user' },
        output: null,
        usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true },
        steps: 1,
      },
    });
    expect(spansFromJournal('run_cancel', cancelled)[0]?.status).toEqual({ code: 'unset' });
  });

  it('puts the input a chat call was sent on its span, when capturing', () => {
    const inputs = new Map([
      ['chat:0', { messages: '[{"parts":[],"role":"user"}]', system: '[]' }],
      ['chat:1', { messages: '[{"parts":[],"role":"tool"}]' }],
    ]);
    const chats = (captureContent: boolean) =>
      spansFromJournal('run_1', journal(), { captureContent, inputs })
        .filter((span) => span.attributes[ATTR.operationName] === 'chat')
        .map((span) => [
          span.attributes[ATTR.inputMessages],
          span.attributes[ATTR.systemInstructions],
        ]);
    expect(chats(true)).toEqual([
      ['[{"parts":[],"role":"user"}]', '[]'],
      ['[{"parts":[],"role":"tool"}]', undefined],
    ]);
    expect(chats(false)).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('keeps content off by default and captures it truncated when asked', () => {
    const all = (list: readonly TraceSpan[]) =>
      list.flatMap((span) => Object.keys(span.attributes));
    for (const key of [ATTR.inputMessages, ATTR.outputMessages, ATTR.toolCallArguments]) {
      expect(all(spans)).not.toContain(key);
    }
    const captured = spansFromJournal('run_1', journal(), {
      captureContent: true,
      maxContentChars: 80,
    });
    const tool = byName(captured, 'execute_tool lookup');
    const argumentsText = tool.attributes[ATTR.toolCallArguments];
    expect(argumentsText).toBe(
      `${JSON.stringify({ id: 'A-1', note: 'x'.repeat(100) }).slice(0, 80)}…`,
    );
    expect(captured[0]?.attributes[ATTR.inputMessages]).toBe(
      JSON.stringify([{ parts: [{ content: 'Refund order A-1', type: 'text' }], role: 'user' }]),
    );
    expect(typeof captured[1]?.attributes[ATTR.outputMessages]).toBe('string');
  });

  it('ends an unfinished run at its last entry, and links a fork to its original', () => {
    const entries = journal().slice(0, 5);
    const first = entries[0];
    if (!first) throw new Error('empty journal');
    entries[0] = { ...first, event: { ...first.event, forkOf: { runId: 'run_0', step: 1 } } };
    const running = spansFromJournal('run_2', entries);
    expect(running[0]?.endMs).toBe(T0 + 400);
    expect(running[0]?.status.code).toBe('unset');
    expect(running[0]?.links).toEqual([
      {
        traceId: traceIdOf('run_0'),
        spanId: spanIdOf('run_0', 'run'),
        attributes: { [ATTR.forkOfStep]: 1 },
      },
    ]);
  });

  it("puts a held call's approval, its decision and a cache hit on the tool span", () => {
    const events: Record<string, unknown>[] = [
      {
        type: 'run_started',
        agent: 'refunds',
        task: 'Refund order A-1',
        model: { provider: 'simulator', modelId: 'sim' },
        limits: {},
        startedAt: T0,
      },
      {
        type: 'tool_requested',
        step: 0,
        callId: 'c1',
        index: 0,
        toolName: 'issue_refund',
        input: { orderId: 'A-1' },
        effect: 'irreversible',
      },
      {
        type: 'approval_requested',
        step: 0,
        callId: 'c1',
        index: 0,
        toolName: 'issue_refund',
        approvalId: 'apr_1',
        argsHash: 'h',
        reason: { type: 'effect', effect: 'irreversible' },
        approverGroup: 'finance',
        expiresAt: T0 + 60_000,
        onExpiry: { type: 'deny' },
      },
      { type: 'run_suspended', workerId: 'w1', approvalIds: ['apr_1'], at: T0 + 200 },
      {
        type: 'approval_decided',
        step: 0,
        callId: 'c1',
        toolName: 'issue_refund',
        approvalId: 'apr_1',
        decision: 'approved',
        decidedBy: 'ana',
        at: T0 + 300,
      },
      {
        type: 'tool_finished',
        step: 0,
        callId: 'c1',
        toolName: 'issue_refund',
        content: '{}',
        contentHash: 'x',
        provenance: { trust: 'trusted', source: 'tool:issue_refund' },
        attempts: 1,
        latencyMs: 1,
        cache: 'hit',
      },
    ];
    const spans = spansFromJournal('run_appr', entriesOf(events));
    const tool = byName(spans, 'execute_tool issue_refund');
    expect(tool.events.map((event) => [event.name, event.attributes])).toEqual([
      [
        KEEL_EVENT.approvalRequested,
        {
          [ATTR.approvalId]: 'apr_1',
          [ATTR.approvalGroup]: 'finance',
          [ATTR.approvalGateReason]: 'effect',
        },
      ],
      [
        KEEL_EVENT.approvalDecided,
        {
          [ATTR.approvalId]: 'apr_1',
          [ATTR.approvalDecision]: 'approved',
          [ATTR.approvalDecidedBy]: 'ana',
        },
      ],
    ]);
    expect(tool.attributes[ATTR.toolCache]).toBe('hit');
    expect(byName(spans, 'invoke_agent refunds').events.map((event) => event.name)).toContain(
      KEEL_EVENT.runSuspended,
    );
  });

  it('puts each context assembly on the run span with its token counts per section', () => {
    const events: Record<string, unknown>[] = [
      journal()[0]?.event as Record<string, unknown>,
      {
        type: 'context_assembled',
        step: 4,
        trigger: 'context_too_long',
        budgetTokens: 12_000,
        totalTokens: 9_500,
        compressed: true,
        sections: {
          pinned: { tokens: 300, items: 3, untrusted: 0 },
          summaries: { tokens: 1_200, items: 10, untrusted: 10 },
          window: { tokens: 6_000, items: 8, untrusted: 4 },
          recalled: { tokens: 2_000, items: 1, untrusted: 1 },
        },
        summarisedSteps: 40,
        storedResults: 44,
        recalled: ['result:12:call_12_0'],
      },
    ];
    const spans = spansFromJournal('run_ctx', entriesOf(events));
    const assembled = byName(spans, 'invoke_agent refunds').events.filter(
      (event) => event.name === KEEL_EVENT.contextAssembled,
    );
    expect(assembled.map((event) => event.attributes)).toEqual([
      {
        [ATTR.step]: 4,
        [ATTR.contextTrigger]: 'context_too_long',
        [ATTR.contextBudgetTokens]: 12_000,
        [ATTR.contextTotalTokens]: 9_500,
        [ATTR.contextPinnedTokens]: 300,
        [ATTR.contextSummaryTokens]: 1_200,
        [ATTR.contextWindowTokens]: 6_000,
        [ATTR.contextRecalledTokens]: 2_000,
        [ATTR.contextCompressed]: true,
        [ATTR.contextSummarisedSteps]: 40,
        [ATTR.contextRecalled]: ['result:12:call_12_0'],
      },
    ]);
  });

  it("puts a decision's attempts and outcome made inside a call on its tool span", () => {
    const base = { step: 0, callId: 'c1', toolName: 'classify', decisionId: 'dec_1' };
    const events: Record<string, unknown>[] = [
      {
        type: 'tool_started',
        step: 0,
        callId: 'c1',
        toolName: 'classify',
        idempotencyKey: 'k',
        attempt: 1,
      },
      {
        ...base,
        type: 'decision_recorded',
        entry: { type: 'decision_attempt', vote: 1, attempt: 1, output: '{', error: 'not JSON' },
      },
      {
        ...base,
        type: 'decision_recorded',
        entry: { type: 'decision_made', value: 'billing', confidence: 0.9, agreement: [1, 1] },
      },
      {
        type: 'tool_finished',
        step: 0,
        callId: 'c1',
        toolName: 'classify',
        content: '"billing"',
        contentHash: 'x',
        provenance: { trust: 'trusted', source: 'tool:classify' },
        attempts: 1,
        latencyMs: 1,
      },
    ];
    const spans = spansFromJournal('run_dec', entriesOf(events));
    const tool = byName(spans, 'execute_tool classify');
    expect(tool.events.map((event) => [event.name, event.attributes])).toEqual([
      [
        KEEL_EVENT.decision,
        {
          [ATTR.decisionId]: 'dec_1',
          [ATTR.decisionEntry]: 'decision_attempt',
          [ATTR.decisionVote]: 1,
          [ATTR.decisionAttempt]: 1,
          [ATTR.errorMessage]: 'not JSON',
        },
      ],
      [
        KEEL_EVENT.decision,
        {
          [ATTR.decisionId]: 'dec_1',
          [ATTR.decisionEntry]: 'decision_made',
          [ATTR.decisionConfidence]: 0.9,
        },
      ],
    ]);
  });

  it('puts a summariser call on its own span with its usage, cost and label', () => {
    const events: Record<string, unknown>[] = [
      journal()[0]?.event as Record<string, unknown>,
      {
        type: 'step_summarised',
        step: 30,
        summarisedStep: 24,
        by: 'model',
        text: 'step 24: read page 24',
        provenance: { trust: 'untrusted', source: 'summary' },
        usage: { inputTokens: 900, outputTokens: 40 },
        costUsd: 0.0003,
        model: 'anthropic:claude-haiku-4-5',
      },
      {
        type: 'step_summarised',
        step: 30,
        summarisedStep: 23,
        by: 'deterministic',
        text: 'step 23: called fetch_page',
        provenance: { trust: 'trusted', source: 'summary' },
        fallback: { errorType: 'overloaded', message: 'try later' },
      },
    ];
    const spans = spansFromJournal('run_sum', entriesOf(events));
    const model = byName(spans, 'chat anthropic:claude-haiku-4-5');
    expect(model.attributes).toMatchObject({
      [ATTR.step]: 30,
      [ATTR.contextSummarisedStep]: 24,
      [ATTR.contextSummaryBy]: 'model',
      [ATTR.trust]: 'untrusted',
      [ATTR.usageInputTokens]: 900,
      [ATTR.usageOutputTokens]: 40,
      [ATTR.costUsd]: 0.0003,
    });
    expect(model.status).toEqual({ code: 'unset' });
    const fallback = byName(spans, 'summarise_step');
    expect(fallback.attributes[ATTR.errorType]).toBe('overloaded');
    expect(fallback.status).toMatchObject({ code: 'error' });
  });

  it('maps every journal event type in one table', () => {
    expect(Object.keys(EVENT_SPAN_MAPPINGS).sort()).toEqual(
      [
        'approval_decided',
        'approval_requested',
        'cancel_requested',
        'context_assembled',
        'decision_recorded',
        'step_summarised',
        'guard_verdict',
        'injection_signal',
        'action_flagged',
        'tool_quarantined',
        'limit_hit',
        'model_called',
        'model_failed',
        'model_output_rejected',
        'run_claimed',
        'run_finished',
        'run_released',
        'run_started',
        'run_suspended',
        'tool_failed',
        'tool_finished',
        'tool_rejected',
        'tool_requested',
        'tool_started',
      ].sort(),
    );
  });
});

describe('encodeTraceRequest', () => {
  it('round-trips spans through OTLP protobuf, long and non-ASCII values included', () => {
    const spans = spansFromJournal('run_1', journal(), {
      captureContent: true,
      maxContentChars: 20_000,
    });
    const withExtras = spans.map((span, index) =>
      index === 0
        ? {
            ...span,
            attributes: {
              ...span.attributes,
              'test.long': 'é'.repeat(10_000),
              'test.negative': -42,
              'test.double': 1.5,
            },
          }
        : span,
    );
    const resource = {
      attributes: { 'service.name': 'keel' },
      scopeName: 'keel',
      scopeVersion: '1',
      schemaUrl: GEN_AI_SCHEMA_URL,
    };
    const decoded = decodeTraceRequest(Buffer.from(encodeTraceRequest(withExtras, resource)));
    expect(decoded).toHaveLength(spans.length);
    decoded.forEach((span, index) => {
      const original = withExtras[index];
      if (!original) throw new Error('missing span');
      expect(span.traceId).toBe(original.traceId);
      expect(span.spanId).toBe(original.spanId);
      expect(span.parentSpanId).toBe(original.parentSpanId ?? '');
      expect(span.name).toBe(original.name);
      expect(span.kind).toBe(original.kind === 'client' ? 3 : 1);
      expect(span.startTimeUnixNano).toBe(BigInt(original.startMs) * 1_000_000n);
      expect(span.endTimeUnixNano).toBe(BigInt(original.endMs) * 1_000_000n);
      expect(span.attributes).toEqual(original.attributes);
      expect(span.events.map((event) => [event.name, event.attributes])).toEqual(
        original.events.map((event) => [event.name, event.attributes]),
      );
      expect(span.status.code).toBe({ unset: 0, ok: 1, error: 2 }[original.status.code]);
      expect(span.scope).toEqual({ name: 'keel', version: '1', schemaUrl: GEN_AI_SCHEMA_URL });
    });
  });
});
