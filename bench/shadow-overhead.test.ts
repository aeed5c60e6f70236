import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { measureShadowOverhead, renderShadowOverhead } from './shadow-overhead.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-shadow-bench-'));
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('measureShadowOverhead', () => {
  it('leaves the production journal unchanged with the shadow on, and executes no side effect', async () => {
    const result = await measureShadowOverhead({ directory, blocks: 1, runsPerBlock: 3 });
    expect(result).toMatchObject({ runsPerSide: 3, sameJournals: true, executedSideEffects: 0 });
    expect(result.shadowRuns).toBeGreaterThan(0);
    expect(renderShadowOverhead(result)).toContain('0 side effects executed');
  });
});
