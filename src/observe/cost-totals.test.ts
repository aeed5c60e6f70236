import { describe, expect, it } from 'vitest';
import { costTotals } from './cost-totals.js';
import type { JournalEntry } from './journal.js';

const AT = Date.UTC(2026, 11, 1);

function journal(events: Record<string, unknown>[]): JournalEntry[] {
  return events.map((event, index) => ({ seq: index + 1, at: AT, event }) as JournalEntry);
}

describe('costTotals', () => {
  it('counts the quarantined reader and the planner as the run counts them', () => {
    const entries = journal([
      {
        type: 'run_started',
        agent: 'mail',
        model: { provider: 'openai', modelId: 'gpt-4.1-mini' },
      },
      {
        type: 'intent_planned',
        outputs: ['{}'],
        usage: { inputTokens: 50, outputTokens: 5 },
        costUsd: 0.0001,
      },
      { type: 'model_called', usage: { inputTokens: 100, outputTokens: 10 }, costUsd: 0.001 },
      {
        type: 'tool_quarantined',
        callId: 'c1',
        usage: { inputTokens: 400, outputTokens: 40 },
        costUsd: 0.004,
      },
      // Journaled before this spending was counted: the run's totals left it out.
      { type: 'tool_quarantined', callId: 'c2', usage: { inputTokens: 900, outputTokens: 90 } },
      // An unpriced reader.
      {
        type: 'tool_quarantined',
        callId: 'c3',
        usage: { inputTokens: 10, outputTokens: 1 },
        costUsd: null,
      },
    ]);
    const totals = costTotals([{ runId: 'run_1', entries }]);
    expect(totals.total).toMatchObject({
      modelCalls: 4,
      inputTokens: 560,
      outputTokens: 56,
      unpricedCalls: 1,
    });
    expect(totals.total.costUsd).toBeCloseTo(0.0051, 10);
    expect(totals.byModel.map((line) => [line.key, line.modelCalls])).toEqual(
      expect.arrayContaining([
        ['openai:gpt-4.1-mini', 1],
        ['quarantined reader', 2],
        ['planner', 1],
      ]),
    );
  });
});
