import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { simulator, type ModelAdapterV1 } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  contains,
  defineSuite,
  evalReport,
  llmRubric,
  rescoreEvaluation,
  runSuite,
  storeEvaluation,
  type EvalReport,
} from './index.js';

/** A model that counts its calls. */
function counting(model: ModelAdapterV1): { model: ModelAdapterV1; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    model: {
      ...model,
      doGenerate(request, options) {
        calls += 1;
        return model.doGenerate(request, options);
      },
    },
  };
}

let store: Store;
beforeEach(async () => {
  store = await openStore('sqlite::memory:');
});
afterEach(async () => {
  await store.close();
});

describe('rescoreEvaluation', () => {
  it('judges stored journals with changed assertions and calls no model', async () => {
    const agentModel = counting(
      simulator({ script: [{ text: 'Your refund RF-1 is on its way.' }] }),
    );
    const judgeModel = counting(simulator({ script: [{ text: '{"score":0.9,"reason":"ok"}' }] }));
    const agent = defineAgent({
      name: 'refunds',
      instructions: 'Refund.',
      model: agentModel.model,
    });
    const before = defineSuite({
      name: 'refunds',
      agent: 'refunds',
      judge: judgeModel.model,
      repeat: 2,
      cases: [
        {
          name: 'reference',
          task: 'Refund ORD-1',
          expect: [contains('RF-1'), llmRubric('polite')],
        },
      ],
    });
    const results = [await runSuite(before, { agents: [agent], name: 'refunds' })];
    const report = evalReport(results);
    const id = await storeEvaluation(store, { report, results, sources: ['refunds.eval.ts'] });
    const modelCalls = agentModel.calls();
    const judgeCalls = judgeModel.calls();
    expect(modelCalls).toBe(2);
    expect(judgeCalls).toBe(2);

    // The assertions changed: the reference must now be RF-2; the rubric is the same.
    const after = defineSuite({
      ...before,
      cases: [
        {
          name: 'reference',
          task: 'Refund ORD-1',
          expect: [contains('RF-2'), llmRubric('polite')],
        },
      ],
    });
    const rescored = await rescoreEvaluation(store, id, [{ name: 'refunds', suite: after }]);
    expect(agentModel.calls()).toBe(modelCalls);
    expect(judgeModel.calls()).toBe(judgeCalls);
    const checks = rescored.results[0]?.cases[0]?.attempts[0]?.assertions;
    expect(checks?.map((check) => [check.label, check.pass])).toEqual([
      ['contains "RF-2"', false],
      ['llm-rubric "polite"', true],
    ]);
    const again = evalReport(rescored.results, { baseline: report.cases });
    expect(again).toMatchObject({ passed: 0, failed: 1 });
    expect(again.regressions).toEqual([
      { case: 'refunds › reference', kind: 'status', before: 'pass', after: 'fail' },
    ]);
  });
});

describe('evalReport against a baseline', () => {
  function report(costUsd: number, steps: number, passed: boolean): EvalReport['cases'] {
    return [
      {
        name: 's › c',
        suite: 's',
        case: 'c',
        agent: 'a',
        passed,
        passAt1: passed ? 1 : 0,
        passHatK: passed ? 1 : 0,
        k: 1,
        costUsd,
        latencyMs: 100,
        steps,
        suppressedCalls: 0,
        failures: [],
      },
    ];
  }
  const result = (costUsd: number, steps: number, passed: boolean) => ({
    suite: 's',
    k: 1,
    passed: passed ? 1 : 0,
    failed: passed ? 0 : 1,
    passAt1: passed ? 1 : 0,
    passHatK: passed ? 1 : 0,
    costUsd,
    judgeCostUsd: 0,
    durationMs: 100,
    cases: [
      {
        name: 'c',
        agent: 'a',
        passed,
        passAt1: passed ? 1 : 0,
        attempts: [
          {
            attempt: 1,
            seed: 1,
            runId: 'r',
            status: 'succeeded',
            passed,
            assertions: [],
            output: '',
            costUsd,
            judgeCostUsd: 0,
            latencyMs: 100,
            steps,
            tokens: 0,
            suppressedCalls: 0,
            executedCalls: 0,
            journal: [],
          },
        ],
      },
    ],
  });

  it('reports pass→fail and metrics that got worse, with their deltas', () => {
    const compared = evalReport([result(0.01, 5, false)], { baseline: report(0.005, 3, true) });
    expect(compared.regressions).toEqual([
      { case: 's › c', kind: 'status', before: 'pass', after: 'fail' },
      { case: 's › c', kind: 'costUsd', before: 0.005, after: 0.01, delta: 0.005 },
      { case: 's › c', kind: 'steps', before: 3, after: 5, delta: 2 },
    ]);
    expect(compared.cases[0]?.baseline).toEqual({
      change: 'pass→fail',
      deltas: { costUsd: 0.005, latencyMs: 0, steps: 2 },
    });
  });

  it('reports no regression for fail→pass, small changes, or cheaper runs', () => {
    const compared = evalReport([result(0.004, 3, true)], { baseline: report(0.005, 3, false) });
    expect(compared.regressions).toEqual([]);
    expect(compared.cases[0]?.baseline?.change).toBe('fail→pass');
    const noise = evalReport([result(0.00505, 3, true)], { baseline: report(0.005, 3, true) });
    expect(noise.regressions).toEqual([]);
  });
});
