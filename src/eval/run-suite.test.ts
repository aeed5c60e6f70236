import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator, type ScriptContext, type SimulatedTurn } from '../model/index.js';
import { defineTool } from '../tools/index.js';
import {
  approvalRequested,
  contains,
  defineSuite,
  llmRubric,
  runCase,
  runSuite,
  status,
  suppressed,
  toolCalled,
  type SuiteDefinition,
} from './index.js';

/** A refunds agent whose tools count what really ran. */
function refundsDesk(script?: (context: ScriptContext) => SimulatedTurn) {
  const ran: string[] = [];
  const lookupOrder = defineTool({
    name: 'lookup_order',
    description: 'Look up an order',
    input: z.object({ orderId: z.string() }),
    effect: 'read',
    run({ orderId }) {
      ran.push(`lookup_order ${orderId}`);
      return Promise.resolve({ orderId, totalCents: 4200, live: true });
    },
  });
  const issueRefund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number() }),
    effect: 'irreversible',
    run({ orderId }) {
      ran.push(`issue_refund ${orderId}`);
      return Promise.resolve({ refundId: 'RF-LIVE' });
    },
  });
  const defaultScript = ({ lastToolResults, step }: ScriptContext): SimulatedTurn => {
    if (step === 0) return { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1001' } }] };
    if (step === 1)
      return {
        toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1001', amountCents: 4200 } }],
      };
    return { text: `Done: ${lastToolResults[0]?.content ?? 'nothing'}` };
  };
  const agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund orders.',
    model: simulator({ script: script ?? defaultScript }),
    tools: [lookupOrder, issueRefund],
    gates: { effects: ['irreversible'] },
  });
  return { agent, ran };
}

function suiteOf(agent: Agent, overrides: Partial<SuiteDefinition> = {}) {
  return defineSuite({
    agent: 'refunds',
    agents: [agent],
    approvals: 'approve',
    cases: [
      {
        name: 'refund has a reference',
        task: 'Refund ORD-1001',
        fixtures: [
          { tool: 'issue_refund', args: { orderId: 'ORD-1001' }, result: { refundId: 'RF-77' } },
        ],
        expect: [
          status('succeeded'),
          contains('RF-77'),
          approvalRequested({ tool: 'issue_refund' }),
        ],
      },
    ],
    ...overrides,
  });
}

describe('runSuite', () => {
  it('serves fixtures and never executes a side effect; reads run live only when allowed', async () => {
    const { agent, ran } = refundsDesk();
    const result = await runSuite(suiteOf(agent));
    expect(
      result.cases[0]?.attempts[0]?.assertions.map((check) => [check.label, check.pass]),
    ).toEqual([
      ['status succeeded', true],
      ['contains "RF-77"', true],
      ['approval-requested issue_refund', true],
    ]);
    expect(ran).toEqual([]);
    expect(result).toMatchObject({ passed: 1, failed: 0, passAt1: 1, passHatK: 1, k: 1 });

    const live = await runSuite(suiteOf(agent, { liveReads: true }));
    expect(live.passed).toBe(1);
    expect(ran).toEqual(['lookup_order ORD-1001']);
    expect(live.cases[0]?.attempts[0]?.executedCalls).toBe(1);
  });

  it('suppresses a side effect with no fixture, records it, and lets the case assert on it', async () => {
    const { agent, ran } = refundsDesk();
    const suite = defineSuite({
      agent: 'refunds',
      agents: [agent],
      approvals: 'approve',
      cases: [
        {
          name: 'no fixture',
          task: 'Refund ORD-1001',
          expect: [suppressed({ tool: 'issue_refund', min: 1, max: 1 }), contains('suppressed')],
        },
      ],
    });
    const result = await runSuite(suite);
    expect(ran).toEqual([]);
    expect(result.passed).toBe(1);
    expect(result.cases[0]?.attempts[0]?.suppressedCalls).toBe(2);
  });

  it('denies held calls by default: the refund never reaches execution', async () => {
    const { agent } = refundsDesk();
    const suite = suiteOf(agent, {
      approvals: undefined,
      cases: [
        {
          name: 'denied',
          task: 'Refund ORD-1001',
          expect: [
            toolCalled('issue_refund', { executed: true, min: 0, max: 0 }),
            contains('denied'),
          ],
        },
      ],
    });
    const result = await runSuite(suite);
    expect(result.cases[0]?.attempts[0]?.assertions.map((check) => check.pass)).toEqual([
      true,
      true,
    ]);
  });

  it('pass^k: runs each case k times with different seeds; one failing attempt fails the case', async () => {
    const { agent } = refundsDesk(({ random }) => ({ text: random() < 0.5 ? 'heads' : 'tails' }));
    const suite = suiteOf(agent, {
      repeat: 8,
      cases: [{ name: 'coin', task: 'Flip', expect: [contains('heads')] }],
    });
    const result = await runSuite(suite);
    const attempts = result.cases[0]?.attempts ?? [];
    expect(attempts.map((attempt) => attempt.seed)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const heads = attempts.filter((attempt) => attempt.output === 'heads').length;
    expect(heads).toBeGreaterThan(0);
    expect(heads).toBeLessThan(8);
    expect(result.cases[0]).toMatchObject({ passed: false, passAt1: heads / 8 });
    expect(result).toMatchObject({ k: 8, passed: 0, failed: 1, passHatK: 0, passAt1: heads / 8 });
    // --repeat overrides the suite's k.
    expect((await runSuite(suite, { repeat: 2 })).k).toBe(2);
  });

  it('counts a judge apart from the agent', async () => {
    const { agent } = refundsDesk();
    const judge = simulator({ script: [{ text: '{"score":1,"reason":"has a reference"}' }] });
    const suite = suiteOf(agent, {
      judge,
      cases: [
        {
          name: 'judged',
          task: 'Refund ORD-1001',
          fixtures: [{ tool: 'issue_refund', result: { refundId: 'RF-77' } }],
          expect: [llmRubric('quotes the refund id')],
        },
      ],
    });
    const result = await runSuite(suite);
    expect(result.passed).toBe(1);
    expect(result.judgeCostUsd).toBeGreaterThan(0);
    expect(result.costUsd).toBe(result.cases[0]?.attempts[0]?.costUsd);
  });

  it('runs one case for a test runner', async () => {
    const { agent } = refundsDesk();
    const suite = suiteOf(agent);
    expect((await runCase(suite, 'refund has a reference')).passed).toBe(true);
    await expect(runCase(suite, 'missing')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('names a case agent that is not loaded', async () => {
    const { agent } = refundsDesk();
    const suite = suiteOf(agent, { agent: 'payments' });
    await expect(runSuite(suite)).rejects.toThrow(/agent "payments", which is not loaded/);
  });
});

describe('defineSuite', () => {
  const definitionError = (definition: unknown): string => {
    try {
      defineSuite(definition as SuiteDefinition);
    } catch (error) {
      expect(KeelError.isInstance(error) && error.code).toBe('invalid_definition');
      return (error as Error).message;
    }
    throw new Error('defineSuite accepted a bad definition');
  };
  const good = { name: 'a', task: 'b', expect: [] };

  it('names the field of a bad definition', () => {
    expect(definitionError({ agent: 'x', cases: [] })).toMatch(/^defineSuite: cases: /);
    expect(definitionError({ agent: 'x', cases: [{ ...good, task: '' }] })).toMatch(
      /^defineSuite: cases\[0\]\.task: /,
    );
    expect(
      definitionError({
        agent: 'x',
        cases: [
          good,
          { ...good, name: 'c', expect: [{ type: 'tool-called', tool: 't', max: -1 }] },
        ],
      }),
    ).toMatch(/^defineSuite: cases\[1\]\.expect\[0\]\.max: /);
    expect(
      definitionError({
        agent: 'x',
        cases: [{ ...good, expect: [{ type: 'regex', pattern: '(' }] }],
      }),
    ).toMatch(/cases\[0\]\.expect\[0\]\.pattern: not a valid regular expression/);
    expect(definitionError({ agent: 'x', repeat: 0, cases: [good] })).toMatch(
      /^defineSuite: repeat: /,
    );
    expect(definitionError({ cases: [good] })).toMatch(/cases\[0\]\.agent: /);
    expect(definitionError({ agent: 'x', cases: [good, good] })).toMatch(/cases\[1\]\.name: /);
    expect(
      definitionError({
        agent: 'x',
        cases: [{ ...good, expect: [{ type: 'llm-rubric', rubric: 'r' }] }],
      }),
    ).toMatch(/cases\[0\]\.expect\[0\]\.model: /);
    expect(
      definitionError({
        agent: 'x',
        cases: [{ ...good, expect: [{ type: 'escalation', belowConfidence: Number.NaN }] }],
      }),
    ).toMatch(/cases\[0\]\.expect\[0\]\.belowConfidence/);
    expect(
      definitionError({ agent: 'x', cases: [{ ...good, limits: { maxIterations: -1 } }] }),
    ).toMatch(/cases\[0\]\.limits/);
    expect(definitionError({ agent: 'x', cases: [good], colour: 'red' })).toMatch(/colour/);
  });
});
