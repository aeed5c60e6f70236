import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_TASKS,
  REFUNDS_CANDIDATE_VERSION,
  supportDeskAgents,
  supportDeskCandidates,
} from '../../examples/support-desk/agents.js';
import { createRuntime } from '../engine/index.js';
import { openStore } from '../store/index.js';
import { runKeel } from './__tests__/keel-process.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-shadow-cli-'));
const storeUrl = `sqlite:${join(directory, 'keel.db')}`;
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('keel shadow', () => {
  let shadowId = '';
  let productionRunId = '';
  let candidateRunId = '';

  beforeAll(async () => {
    const started = await runKeel(storeUrl, [
      'shadow',
      'start',
      'refunds',
      '--candidate',
      REFUNDS_CANDIDATE_VERSION,
      '--share',
      '1',
      '--max-cost-usd',
      '0.5',
      '--json',
    ]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    shadowId = (JSON.parse(started.stdout) as { shadow: { id: string } }).shadow.id;
    // Production runs on the demo's agents; the candidate runs in shadow on a worker.
    const store = await openStore(storeUrl);
    const runtime = createRuntime({
      store,
      agents: supportDeskAgents,
      candidates: supportDeskCandidates,
    });
    try {
      productionRunId = (await runtime.run('refunds', DEMO_TASKS.refund)).id;
      const [queued] = await runtime.shadows.consider(productionRunId);
      const pairs = await store.shadows.pairs(shadowId);
      candidateRunId = queued ?? pairs[0]?.candidateRunId ?? '';
      for (let tries = 0; tries < 500 && !(await store.getRun(candidateRunId)); tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      runtime.startWorker({ pollMs: 10 });
      await runtime.wait(candidateRunId, { pollMs: 10 });
    } finally {
      await runtime.close();
      await store.close();
    }
  });

  it('refuses bad input with one line and exit code 2', async () => {
    const attempts = [
      ['shadow', 'start', 'refunds', '--candidate', REFUNDS_CANDIDATE_VERSION, '--share', '0'],
      ['shadow', 'start', 'refunds', '--candidate', REFUNDS_CANDIDATE_VERSION, '--share', 'half'],
      [
        'shadow',
        'start',
        'refunds',
        '--candidate',
        REFUNDS_CANDIDATE_VERSION,
        '--max-concurrent',
        '0',
      ],
      ['shadow', 'start', 'nobody', '--candidate', REFUNDS_CANDIDATE_VERSION],
      ['shadow', 'start', 'refunds', '--candidate', 'no-such-version'],
      ['shadow', 'start', 'refunds', '--candidate', './missing/candidate.ts'],
      ['shadow', 'start', 'refunds'],
      ['shadow', 'stop', 'sh_nothing'],
      ['shadow', 'report', 'sh_nothing'],
      ['worker', '--shadows', 'sometimes'],
    ];
    const results = await Promise.all(attempts.map((args) => runKeel(storeUrl, args)));
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('reports every pair with the side effects executed (0) and a verdict per metric', async () => {
    const report = await runKeel(storeUrl, ['shadow', 'report', '--json']);
    expect(report.code).toBe(0);
    const parsed = JSON.parse(report.stdout) as {
      pairs: { production: { runId: string }; candidate: { runId: string; version: string } }[];
      executedSideEffects: number;
      suppressedCalls: number;
      metrics: Record<string, { verdict: string; n: number }>;
    };
    expect(parsed.executedSideEffects).toBe(0);
    expect(parsed.suppressedCalls).toBeGreaterThan(0);
    expect(parsed.pairs).toEqual([
      expect.objectContaining({
        production: expect.objectContaining({ runId: productionRunId }),
        candidate: expect.objectContaining({
          runId: candidateRunId,
          version: REFUNDS_CANDIDATE_VERSION,
        }),
      }),
    ]);
    expect(Object.keys(parsed.metrics).sort()).toEqual([
      'approvals',
      'costUsd',
      'latencyMs',
      'outputMatch',
      'success',
      'toolCalls',
      'trajectoryMatch',
    ]);
    const text = await runKeel(storeUrl, ['shadow', 'report', shadowId]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('side effects executed 0');
  });

  it("checks both runs of a pair against the assertions of its task's case in --suite", async () => {
    const suite = join(directory, 'refunds.eval.json');
    writeFileSync(
      suite,
      JSON.stringify({
        name: 'shadow-suite',
        agent: 'refunds',
        cases: [
          {
            name: 'the demo refund',
            task: DEMO_TASKS.refund,
            expect: [
              { type: 'status', status: 'succeeded' },
              { type: 'contains', value: 'no answer says this' },
            ],
          },
          {
            name: 'a task no pair has',
            task: 'Refund nothing at all',
            expect: [{ type: 'status', status: 'failed' }],
          },
        ],
      }),
    );
    const report = await runKeel(storeUrl, ['shadow', 'report', '--json', '--suite', suite]);
    expect(report.stderr).toBe('');
    expect(report.code).toBe(0);
    const parsed = JSON.parse(report.stdout) as {
      pairs: {
        production: { status: string };
        candidate: { status: string };
        assertions?: { production: { pass: boolean }[]; candidate: { pass: boolean }[] };
      }[];
      metrics: Record<string, { n: number } | undefined>;
    };
    const [pair] = parsed.pairs;
    expect(pair?.production.status).toBe('succeeded');
    expect(pair?.assertions?.production.map((result) => result.pass)).toEqual([true, false]);
    expect(pair?.assertions?.candidate.map((result) => result.pass)).toEqual([
      pair?.candidate.status === 'succeeded',
      false,
    ]);
    expect(parsed.metrics.assertionsPassed?.n).toBe(1);
    const text = await runKeel(storeUrl, ['shadow', 'report', '--suite', suite]);
    expect(text.stdout).toContain('assertions passed: production 1/2');
    // Without --suite no assertion is checked; a suite that is not there is one line, exit 2.
    const plain = JSON.parse((await runKeel(storeUrl, ['shadow', 'report', '--json'])).stdout) as {
      pairs: { assertions?: unknown }[];
      metrics: Record<string, unknown>;
    };
    expect(plain.pairs[0]?.assertions).toBeUndefined();
    expect(plain.metrics.assertionsPassed).toBeUndefined();
    const missing = await runKeel(storeUrl, [
      'shadow',
      'report',
      '--suite',
      join(directory, 'missing.eval.json'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('shows versions and shadow runs in runs and show, and lists then stops the shadow', async () => {
    const runs = await runKeel(storeUrl, ['runs', '--json']);
    const listed = (
      JSON.parse(runs.stdout) as {
        runs: { id: string; version: string; shadowOf: string | null }[];
      }
    ).runs;
    expect(listed.find((run) => run.id === candidateRunId)).toMatchObject({
      version: REFUNDS_CANDIDATE_VERSION,
      shadowOf: productionRunId,
    });
    expect(listed.find((run) => run.id === productionRunId)?.version).toMatch(/^d:/);
    const show = await runKeel(storeUrl, ['show', candidateRunId]);
    expect(show.stdout).toContain(`version ${REFUNDS_CANDIDATE_VERSION}`);
    expect(show.stdout).toContain(`shadow  of ${productionRunId}`);
    expect(show.stdout).toContain('shadow_suppressed');

    const list = await runKeel(storeUrl, ['shadow', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject({
      shadows: [{ id: shadowId, stoppedAt: null, usage: { pairs: 1, active: 0 } }],
    });
    const stop = await runKeel(storeUrl, ['shadow', 'stop', 'refunds']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`${shadowId} stopped`);
  });
});
