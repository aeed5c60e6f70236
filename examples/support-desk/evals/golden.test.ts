import { describe, expect, it } from 'vitest';
import { createRuntime, openStore, simulator, type ScriptContext } from '../../../src/index.js';
import { defineSuite, goldenCase, runSuite } from '../../../src/exports/eval.js';
import { DEMO_TASKS, SUPPORT_DESK_MODEL_ID, createSupportDeskAgents } from '../agents.js';
import { SupportBackend } from '../backend.js';
import { refundsScript } from '../scripts.js';

/** A demo refund, run for real on a fresh backend, recorded as a golden case. */
async function recordedRefund() {
  const backend = new SupportBackend();
  const agents = createSupportDeskAgents(backend);
  const store = await openStore('sqlite::memory:');
  const runtime = createRuntime({ store, agents });
  try {
    const result = await runtime.run('refunds', DEMO_TASKS.refund);
    const journal = (await store.readEvents(result.id)).map(({ at, event }) => ({ at, event }));
    return { golden: goldenCase(journal, { name: 'golden refund' }), agents };
  } finally {
    await runtime.close();
    await store.close();
  }
}

describe('golden cases', () => {
  it('replay a recorded demo run with nothing executed, and pass', async () => {
    const { golden, agents } = await recordedRefund();
    expect(golden.expect).toEqual([
      { type: 'status', status: 'succeeded', reason: 'final_answer' },
      {
        type: 'trajectory',
        tools: ['lookup_customer', 'lookup_order', 'issue_refund', 'send_email'],
        mode: 'exact',
      },
      ...golden.expect.slice(2),
    ]);
    expect(golden.expect.slice(2)).toContainEqual({ type: 'contains', value: 'ORD-1001' });
    // A fresh desk: the refund it issues must not come from the replay.
    const replayAgents = createSupportDeskAgents(new SupportBackend());
    const result = await runSuite(defineSuite({ cases: [golden], repeat: 2 }), {
      agents: replayAgents,
    });
    expect(result.passed).toBe(1);
    for (const attempt of result.cases[0]?.attempts ?? []) {
      expect(attempt.executedCalls).toBe(0);
      expect(attempt.suppressedCalls).toBe(0);
    }
    expect(agents).toHaveLength(4);
  });

  it('fail with a readable trajectory diff when the agent skips a tool', async () => {
    const { golden, agents } = await recordedRefund();
    // A changed refunds agent that no longer emails the confirmation.
    const skipsEmail = agents.map((agent) =>
      agent.name !== 'refunds'
        ? agent
        : agent.withModel(
            simulator({
              modelId: SUPPORT_DESK_MODEL_ID,
              script: (context: ScriptContext) => {
                const turn = refundsScript(context);
                return turn.toolCalls?.[0]?.name === 'send_email'
                  ? { text: 'Refunded; no email sent.' }
                  : turn;
              },
            }),
          ),
    );
    const result = await runSuite(defineSuite({ cases: [golden] }), { agents: skipsEmail });
    expect(result.failed).toBe(1);
    const trajectory = result.cases[0]?.attempts[0]?.assertions.find(
      (check) => check.type === 'trajectory',
    );
    expect(trajectory?.message).toBe(
      [
        'trajectory differs (- expected, + actual):',
        '  lookup_customer',
        '  lookup_order',
        '  issue_refund',
        '- send_email',
      ].join('\n'),
    );
  });
});
