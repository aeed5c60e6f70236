import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRuntime,
  defineAgent,
  defineRouter,
  openStore,
  simulator,
  type Agent,
} from '../index.js';
import { createApprovals } from '../exports/approval.js';
import { ROOT, runKeel, type CliResult } from './__tests__/keel-process.js';

/*
 * A low-confidence routing decision waits as a review item across process restarts; `keel
 * review` (a real process) resolves it and the chosen executor's run goes on with that value.
 */

const LIBRARY = join(ROOT, 'src/index.js');
const directory = mkdtempSync(join(tmpdir(), 'keel-review-cli-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const AGENTS = `
export const agents = [
  defineAgent({
    name: 'billing',
    description: 'charges and invoices',
    instructions: 'Billing.',
    model: simulator({ script: ({ task }) => ({ text: 'billing handled: ' + task }) }),
  }),
  defineAgent({
    name: 'shipping',
    description: 'parcels',
    instructions: 'Shipping.',
    model: simulator({ script: ({ task }) => ({ text: 'shipping handled: ' + task }) }),
  }),
];
`;
const CONFIG_PATH = join(directory, 'keel.config.ts');
writeFileSync(
  CONFIG_PATH,
  `import { defineAgent, simulator } from ${JSON.stringify(LIBRARY)};\n${AGENTS}`,
);
symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'));

function executors(): Agent[] {
  const make = (name: string, description: string) =>
    defineAgent({
      name,
      description,
      instructions: `Handle ${name}.`,
      model: simulator({ script: ({ task }) => ({ text: `${name} handled: ${task}` }) }),
    });
  return [make('billing', 'charges and invoices'), make('shipping', 'parcels')];
}

function keel(storeUrl: string, args: string[], token?: string): Promise<CliResult> {
  return runKeel(storeUrl, ['--agents', CONFIG_PATH, ...args], token);
}

describe('keel reviews / keel review', () => {
  it('resolves a low-confidence routing decision after a restart and the run continues with the choice', async () => {
    const storeUrl = `sqlite:${join(directory, 'restart.db')}`;
    const task = 'I was charged twice for order A-1';

    // First process: the router is unsure, so the decision waits for a human.
    let decisionId: string;
    let token: string;
    {
      const store = await openStore(storeUrl);
      const [billing, shipping] = executors() as [Agent, Agent];
      const runtime = createRuntime({ store, agents: [billing, shipping] });
      const router = defineRouter({
        model: simulator({
          script: [
            {
              text: '{"value": "shipping", "confidence": 0.4, "reason": "It mentions an order."}',
            },
          ],
        }),
        routes: { billing, shipping },
        minConfidence: 0.8,
        fallback: 'billing',
      });
      const routed = await router.route(task, { runtime });
      expect(routed).toMatchObject({ status: 'review', runId: undefined });
      expect(await store.listRuns()).toEqual([]);
      decisionId = routed.decision.id;
      ({ token } = await createApprovals({ store }).addApprover({
        name: 'ana',
        groups: ['support'],
      }));
      await runtime.close();
      await store.close();
    }

    // The reviewer sees the model's pick, its confidence and reasoning, the options, the fallback.
    const listed = await keel(storeUrl, ['reviews', '--json']);
    expect(listed.code).toBe(0);
    const { reviews } = JSON.parse(listed.stdout) as { reviews: Record<string, unknown>[] };
    expect(reviews).toEqual([
      {
        id: decisionId,
        kind: 'route',
        instructions: expect.stringContaining('Choose the one route') as unknown,
        input: task,
        proposed: { value: 'shipping', confidence: 0.4, reasoning: 'It mentions an order.' },
        alternatives: ['billing', 'shipping'],
        fallback: 'billing',
        minConfidence: 0.8,
        reason: 'confidence 0.4 is below 0.8',
        runId: null,
        createdAt: expect.any(Number) as unknown,
      },
    ]);
    const text = await keel(storeUrl, ['reviews']);
    expect(text.stdout.split('\n').slice(1, 3)).toEqual([
      '  model picked: "shipping" (confidence 0.4, below 0.8): It mentions an order.',
      '  choose: "billing" | "shipping"; until then: "billing" (fallback)',
    ]);

    const refused = await keel(storeUrl, ['review', decisionId, '--choose', 'billing']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^keel: [^\n]+\n$/);

    const notOffered = await keel(storeUrl, ['review', decisionId, '--choose', 'refunds'], token);
    expect(notOffered.code).toBe(2);
    expect(notOffered.stderr).toMatch(/^keel: .*not one of "billing", "shipping"\n$/);

    const chosen = await keel(
      storeUrl,
      ['review', decisionId, '--choose', 'billing', '--json'],
      token,
    );
    expect(chosen.stderr).toBe('');
    expect(chosen.code).toBe(0);
    const resolved = JSON.parse(chosen.stdout) as { status: string; startedRunId: string };
    expect(resolved).toMatchObject({ status: 'resolved', value: 'billing', decidedBy: 'ana' });

    const again = await keel(storeUrl, ['review', decisionId, '--choose', 'shipping'], token);
    expect(again.code).toBe(1);

    // A new process picks the queued run up: the chosen executor runs the original task.
    const store = await openStore(storeUrl);
    const runtime = createRuntime({ store, agents: executors() });
    try {
      runtime.startWorker({ pollMs: 10 });
      const result = await runtime.wait(resolved.startedRunId, { pollMs: 10 });
      expect(result).toMatchObject({ status: 'succeeded', output: `billing handled: ${task}` });
      expect(await store.decisions.get(decisionId)).toMatchObject({
        status: 'resolved',
        startedRunId: resolved.startedRunId,
      });
      const empty = await keel(storeUrl, ['reviews']);
      expect(empty.stdout.trim()).toBe('no decisions waiting for review');
    } finally {
      await runtime.close();
      await store.close();
    }
  }, 60_000);
});
