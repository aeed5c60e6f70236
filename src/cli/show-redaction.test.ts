import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineTool,
  openStore,
  replayRun,
  simulator,
  type Agent,
} from '../index.js';
import { ROOT, runKeel as keel } from './__tests__/keel-process.js';

/*
 * `keel show` does not print card numbers or national ids unless asked to (--reveal), and
 * `keel erase` removes them from what is stored while the audit log still verifies.
 */

const directory = mkdtempSync(join(tmpdir(), 'keel-show-redaction-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const CARD = '4111 1111 1111 1111';
const SSN = '123-45-6789';

describe('keel show', () => {
  it('redacts card numbers and national ids, in text and JSON, unless --reveal', async () => {
    const storeUrl = `sqlite:${join(directory, 'show.db')}`;
    const store = await openStore(storeUrl);
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'echo',
          instructions: 'Echo.',
          model: simulator({ script: () => ({ text: `card ${CARD}, id ${SSN}` }) }),
        }),
      ],
    });
    const run = await runtime.run('echo', `charge ${CARD} for ${SSN}`);
    await runtime.close();
    await store.close();
    const [text, json, revealed] = await Promise.all([
      keel(storeUrl, ['show', run.id]),
      keel(storeUrl, ['show', run.id, '--json']),
      keel(storeUrl, ['show', run.id, '--reveal']),
    ]);
    for (const result of [text, json]) {
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain(CARD);
      expect(result.stdout).not.toContain(SSN);
      expect(result.stdout).toContain('[redacted:card_number]');
    }
    expect(revealed.stdout).toContain(CARD);

    // A data-protection request: gone from what is stored, so --reveal shows it no more.
    expect((await keel(storeUrl, ['erase', run.id])).code).toBe(0);
    const erased = await keel(storeUrl, ['show', run.id, '--reveal']);
    expect(erased.stdout).not.toContain(CARD);
    expect(erased.stdout).not.toContain(SSN);
    const unknown = await keel(storeUrl, ['erase', 'run_nope']);
    expect([unknown.code, unknown.stdout]).toEqual([2, '']);
    expect(unknown.stderr).toMatch(/^keel: no run run_nope\n$/);
    const verified = await keel(storeUrl, ['audit', 'verify', '--json']);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
  }, 120_000);
});

const TOKEN = 'tok_live_7Qx92';
const ACCOUNT = 'ACCT-004211';

/** A tool with a secret field, a runtime pattern of its own, and a model that repeats both. */
function billing(): Agent {
  return defineAgent({
    name: 'billing',
    instructions: 'Charge.',
    model: simulator({
      script: ({ step, lastToolResults }) =>
        step === 0
          ? {
              toolCalls: [
                { name: 'charge', args: { token: TOKEN, account: ACCOUNT, note: 'monthly' } },
              ],
            }
          : { text: `charged ${TOKEN} on ${ACCOUNT}: ${lastToolResults[0]?.content ?? ''}` },
    }),
    tools: [
      defineTool({
        name: 'charge',
        description: 'Charge a saved card',
        input: z.object({ token: z.string(), account: z.string(), note: z.string() }),
        effect: 'read',
        secretFields: { input: ['token'], output: ['receipt'] },
        run: () => Promise.resolve({ receipt: 'rcpt_99812', ok: true }),
      }),
    ],
  });
}

describe("a tool's secret fields and the runtime's redactors, seen by a CLI without the agents", () => {
  it('keel show and keel trace redact them unless --reveal; keel erase removes them and a replay says what it could not compare', async () => {
    const storeUrl = `sqlite:${join(directory, 'fields.db')}`;
    const store = await openStore(storeUrl);
    const runtime = createRuntime({
      store,
      agents: [billing()],
      redact: [{ name: 'account', pattern: /\bACCT-\d{6}\b/ }],
    });
    const run = await runtime.run('billing', `charge ${ACCOUNT}`);
    expect(run.status).toBe('succeeded');
    await runtime.close();
    await store.close();
    const secrets = [TOKEN, ACCOUNT, 'rcpt_99812'];
    const views = await Promise.all([
      keel(storeUrl, ['show', run.id]),
      keel(storeUrl, ['show', run.id, '--json']),
      keel(storeUrl, ['trace', run.id, '--content']),
      keel(storeUrl, ['trace', run.id, '--content', '--json']),
    ]);
    for (const view of views) {
      expect(view.code).toBe(0);
      for (const secret of secrets) expect(view.stdout).not.toContain(secret);
    }
    expect(views[1]?.stdout).toContain('[redacted:account]');
    const revealed = await keel(storeUrl, ['trace', run.id, '--content', '--json', '--reveal']);
    for (const secret of secrets) expect(revealed.stdout).toContain(secret);

    const erased = await keel(storeUrl, ['erase', run.id, '--json']);
    expect(erased.code).toBe(0);
    const after = await openStore(storeUrl);
    try {
      const stored = JSON.stringify([
        await after.getRun(run.id),
        await after.readEvents(run.id),
        await after.approvals.list({ runId: run.id }),
      ]);
      for (const secret of secrets) expect(stored).not.toContain(secret);
      const report = await replayRun({
        agent: billing(),
        runId: run.id,
        journal: await after.readEvents(run.id),
      });
      expect(report).toMatchObject({
        identical: true,
        erased: { uncompared: ['requestHash'], steps: [0, 1] },
      });
    } finally {
      await after.close();
    }
    const verified = await keel(storeUrl, ['audit', 'verify', '--json']);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
  }, 120_000);
});

describe('keel show --agents', () => {
  it("applies the loaded agents' secret fields to a run that recorded none", async () => {
    const storeUrl = `sqlite:${join(directory, 'loaded.db')}`;
    const lookup = defineTool({
      name: 'lookup',
      description: 'Look up a customer',
      input: z.object({ pin: z.string() }),
      effect: 'read',
      run: () => Promise.resolve({ found: true }),
    });
    const store = await openStore(storeUrl);
    // Recorded before the tool marked its field: the run's journal knows nothing of it.
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'desk',
          instructions: 'Look up.',
          model: simulator({
            script: ({ step }) =>
              step === 0
                ? { toolCalls: [{ name: 'lookup', args: { pin: 'pin-83125' } }] }
                : { text: 'found' },
          }),
          tools: [lookup],
        }),
      ],
    });
    const run = await runtime.run('desk', 'Find the customer');
    await runtime.close();
    await store.close();
    const module = join(directory, 'desk-agents.ts');
    writeFileSync(
      module,
      `import { z } from 'zod';
import { defineAgent, defineTool, simulator } from ${JSON.stringify(join(ROOT, 'src/index.js'))};
export const agents = [
  defineAgent({
    name: 'desk',
    instructions: 'Look up.',
    model: simulator({ script: [] }),
    tools: [
      defineTool({
        name: 'lookup',
        description: 'Look up a customer',
        input: z.object({ pin: z.string() }),
        effect: 'read',
        secretFields: { input: ['pin'] },
        run: async () => ({ found: true }),
      }),
    ],
  }),
];
`,
    );
    symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'));
    const [without, loaded] = await Promise.all([
      keel(storeUrl, ['show', run.id, '--json']),
      keel(storeUrl, ['--agents', module, 'show', run.id, '--json']),
    ]);
    expect(without.stdout).toContain('pin-83125');
    expect(loaded.code).toBe(0);
    expect(loaded.stdout).not.toContain('pin-83125');
  }, 120_000);
});
