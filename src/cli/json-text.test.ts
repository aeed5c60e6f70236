import { describe, expect, it } from 'vitest';
import { jsonText } from './json-text.js';

describe('jsonText', () => {
  it('prints sums of prices without binary-float tails, and leaves integers alone', () => {
    const sum = 0.1 + 0.2; // 0.30000000000000004 in binary floating point
    expect(JSON.stringify(sum)).toBe('0.30000000000000004');
    expect(JSON.parse(jsonText({ costUsd: sum, at: 1_765_000_000_123, steps: 3 }))).toEqual({
      costUsd: 0.3,
      at: 1_765_000_000_123,
      steps: 3,
    });
  });
});
