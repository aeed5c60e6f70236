import { describe, expect, it } from 'vitest';
import { foldRun, type RunEvent } from './index.js';

const usage = { inputTokens: 1_000, outputTokens: 100 };

function quarantined(extra: Partial<Extract<RunEvent, { type: 'tool_quarantined' }>>): RunEvent {
  return {
    type: 'tool_quarantined',
    step: 0,
    callId: 'call_0_0',
    toolName: 'read_email',
    view: '{}',
    outputs: [],
    ...extra,
  };
}

function planned(extra: Partial<Extract<RunEvent, { type: 'intent_planned' }>>): RunEvent {
  return { type: 'intent_planned', step: 0, tools: [], outputs: [], ...extra };
}

describe('foldRun', () => {
  it('adds the quarantined reader’s usage and cost to the run’s totals', () => {
    const state = foldRun([
      quarantined({ usage, costUsd: 0.011 }),
      quarantined({ usage, costUsd: 0.011 }),
    ]);
    expect(state.usage).toEqual({
      inputTokens: 2_000,
      outputTokens: 200,
      costUsd: 0.022,
      costKnown: true,
    });
  });

  it('adds the planner’s usage and cost to the run’s totals', () => {
    expect(foldRun([planned({ usage, costUsd: 0.011 })]).usage).toEqual({
      inputTokens: 1_000,
      outputTokens: 100,
      costUsd: 0.011,
      costKnown: true,
    });
  });

  it('leaves out an event written before this spending was counted, as its run did', () => {
    // No `costUsd`: the run's totals, and its limits, never had this usage.
    const older = foldRun([quarantined({ usage }), planned({ usage })]);
    expect(older.usage).toEqual({ inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true });
  });

  it('counts the tokens and leaves the cost unknown for an unpriced reader', () => {
    expect(foldRun([quarantined({ usage, costUsd: null })]).usage).toEqual({
      inputTokens: 1_000,
      outputTokens: 100,
      costUsd: 0,
      costKnown: false,
    });
  });

  it('adds nothing for a quarantine or a plan that made no model call', () => {
    expect(foldRun([quarantined({}), planned({ error: 'aborted' })]).usage).toEqual({
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      costKnown: true,
    });
  });
});
