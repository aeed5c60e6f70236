import { describe, expect, it } from 'vitest';
import {
  ATTR,
  EVENT_SPAN_MAPPINGS,
  KEEL_EVENT,
  spanIdOf,
  spanTree,
  spansFromJournal,
  traceIdOf,
  type TraceSpan,
} from './index.js';
import { T0, entriesOf, journal } from './__tests__/journal-fixture.js';

/** A refund call held for a human: requested, then its approval requested. */
function heldRefund(): Record<string, unknown>[] {
  return [
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
  ];
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
      ...heldRefund(),
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
      ...heldRefund(),
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
        'answer_guarded',
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
