import type { JournalEntry } from '../index.js';

/*
 * The journal the span tests read: a model call retried once, a tool that fails for good, a
 * final answer. Test support only.
 */

export const T0 = 1_764_000_000_000;

/** A journal: a model call that is retried once, a tool that fails for good, a final answer. */
export function journal(): JournalEntry[] {
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
export function entriesOf(events: readonly Record<string, unknown>[]): JournalEntry[] {
  return events.map((event, index) => ({
    seq: index + 1,
    at: T0 + index * 100,
    event: event as JournalEntry['event'],
  }));
}
