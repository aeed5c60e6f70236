import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FILE = fileURLToPath(new URL('./support-desk.node-test.ts', import.meta.url));

function nodeTest(env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', '--test', FILE], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

describe('keel/eval under node:test', () => {
  it('runs a suite one test per case, and fails the case a broken agent breaks', () => {
    const good = nodeTest();
    expect(good.stdout).toMatch(/# pass 2\b/);
    expect(good.status).toBe(0);
    const broken = nodeTest({ KEEL_EVAL_BROKEN: '1' });
    // The broken refunds agent drops the reference number from its confirmation.
    expect(broken.stdout).toMatch(/not ok \d+ - refund confirmation has a reference/);
    expect(broken.stdout).toMatch(/# fail [12]\b/);
    expect(broken.status).toBe(1);
  });
});
