import { describe, expect, it, vi } from 'vitest';
import { defineAgent } from './index.js';
import { simulator } from '../model/index.js';
import { resolveRunModel } from './run-model.js';

const model = simulator({ script: () => ({ text: 'done' }) });

function warningsOf(spec: string, limits?: { maxCostUsd: 'tokens-only' }): string[] {
  const agent = defineAgent({ name: 'a', instructions: 'x', model, ...(limits ? { limits } : {}) });
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    resolveRunModel(spec, agent);
    return warn.mock.calls.map((call) => String(call[0]));
  } finally {
    warn.mockRestore();
  }
}

describe('a run model for an agent', () => {
  it('warns that an unpriced model cannot enforce the default cost limit', () => {
    expect(warningsOf('openai-compatible:http://127.0.0.1:9/v1#run-model-default')).toEqual([
      expect.stringContaining('no price known for model'),
    ]);
  });

  it("says nothing of cost limits to an agent that chose 'tokens-only'", () => {
    expect(
      warningsOf('openai-compatible:http://127.0.0.1:9/v1#run-model-tokens', {
        maxCostUsd: 'tokens-only',
      }),
    ).toEqual([]);
  });
});
