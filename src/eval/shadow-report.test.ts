import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { createRuntime, type Runtime } from '../engine/index.js';
import { simulator, type SimulatorScript } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import {
  bootstrapInterval,
  contains,
  normaliseOutput,
  pairedMetric,
  shadowReport,
  signTest,
  toolCalled,
} from './index.js';

describe('paired statistics', () => {
  it('gives the exact two-sided sign test', () => {
    expect(signTest(0, 0)).toBe(1);
    expect(signTest(5, 0)).toBeCloseTo(0.0625);
    expect(signTest(10, 0)).toBeCloseTo(2 / 1024);
    expect(signTest(4, 4)).toBe(1);
  });

  it('bootstraps the same interval for the same data', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(bootstrapInterval(values)).toEqual(bootstrapInterval(values));
    const [low, high] = bootstrapInterval(values);
    expect(low).toBeLessThan(4.5);
    expect(high).toBeGreaterThan(4.5);
  });

  it('says better, worse, same or inconclusive', () => {
    const ones = Array.from({ length: 12 }, () => 1);
    const zeros = Array.from({ length: 12 }, () => 0);
    expect(pairedMetric(zeros, ones, 'higher').verdict).toBe('better');
    expect(pairedMetric(ones, zeros, 'higher').verdict).toBe('worse');
    expect(pairedMetric(ones, zeros, 'lower').verdict).toBe('better');
    expect(pairedMetric(ones, ones, 'higher').verdict).toBe('same');
    expect(pairedMetric([1, 0, 1], [0, 1, 1], 'higher').verdict).toBe('inconclusive');
    expect(pairedMetric([], [], 'higher')).toMatchObject({ n: 0, verdict: 'inconclusive' });
  });

  it('normalises outputs for the exact comparison', () => {
    expect(normaliseOutput('  Refunded   $5.  ')).toBe(normaliseOutput('refunded $5'));
    expect(normaliseOutput('Refunded $5')).not.toBe(normaliseOutput('Refunded $50'));
  });
});

describe('shadowReport', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function desk(version: string, script: SimulatorScript, ran: string[]): Agent {
    return defineAgent({
      name: 'desk',
      version,
      model: simulator({ script }),
      instructions: 'You refund orders.',
      tools: [
        defineTool({
          name: 'issue_refund',
          description: 'Refund',
          input: z.object({ orderId: z.string(), amount: z.number() }),
          effect: 'irreversible',
          run: (input) => {
            ran.push(`${version} ${JSON.stringify(input)}`);
            return Promise.resolve({ refundId: 'RF-1' });
          },
        }),
      ],
    });
  }

  async function pairOf(candidateScript: SimulatorScript) {
    const store: Store = await openStore('sqlite::memory:');
    const ran: string[] = [];
    const production = desk(
      'v1',
      [
        { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1', amount: 5 } }] },
        { text: 'Refunded $5.' },
      ],
      ran,
    );
    const candidate = desk('v2', candidateScript, ran);
    const runtime: Runtime = createRuntime({
      store,
      agents: [production],
      candidates: [candidate],
    });
    cleanups.push(async () => {
      await runtime.close();
      await store.close();
    });
    const shadow = await runtime.shadows.start({ agent: 'desk', candidate, share: 1 });
    const result = await runtime.run('desk', 'Refund ORD-1');
    await runtime.shadows.consider(result.id);
    const [pair] = await store.shadows.pairs(shadow.id);
    for (let tries = 0; tries < 500 && !(await store.getRun(pair?.candidateRunId ?? '')); tries++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    runtime.startWorker({ pollMs: 5 });
    await runtime.wait(pair?.candidateRunId ?? '', { pollMs: 5 });
    return { store, ran, shadowId: shadow.id };
  }

  it('reports a candidate that matches production: same output and calls, served, nothing run', async () => {
    const { store, ran, shadowId } = await pairOf([
      { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1', amount: 5 } }] },
      { text: 'refunded $5' },
    ]);
    const report = await shadowReport(store, {
      shadowId,
      assertions: [toolCalled('issue_refund'), contains('$5')],
    });
    expect(ran).toEqual(['v1 {"orderId":"ORD-1","amount":5}']);
    expect(report).toMatchObject({ executedSideEffects: 0, suppressedCalls: 0 });
    expect(report.pairs[0]).toMatchObject({
      complete: true,
      sameStatus: true,
      outputMatch: true,
      trajectory: { same: true, onlyProduction: [], onlyCandidate: [] },
      servedCalls: 1,
      suppressedCalls: 0,
    });
    expect(report.pairs[0]?.assertions?.candidate.map((result) => result.pass)).toEqual([
      true,
      true,
    ]);
    expect(report.metrics.success.verdict).toBe('same');
    expect(report.metrics.outputMatch.verdict).toBe('same');
    expect(report.metrics.assertionsPassed?.verdict).toBe('same');
  });

  it('reports a candidate that diverges: the calls only it made, suppressed, and the output', async () => {
    const { store, ran } = await pairOf([
      { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1', amount: 50 } }] },
      { text: 'Refunded $50.' },
    ]);
    const report = await shadowReport(store);
    expect(ran).toEqual(['v1 {"orderId":"ORD-1","amount":5}']);
    expect(report.executedSideEffects).toBe(0);
    expect(report.suppressedCalls).toBe(1);
    expect(report.pairs[0]).toMatchObject({
      outputMatch: false,
      trajectory: {
        same: false,
        onlyProduction: ['issue_refund {"amount":5,"orderId":"ORD-1"}'],
        onlyCandidate: ['issue_refund {"amount":50,"orderId":"ORD-1"}'],
      },
    });
    expect(report.metrics.outputMatch).toMatchObject({ n: 1, losses: 1, verdict: 'inconclusive' });
    expect(report.metrics.assertionsPassed).toBeUndefined();
  });
});
