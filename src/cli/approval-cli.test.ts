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
  simulator,
  type Agent,
} from '../index.js';
import { type ApprovalRecord } from '../exports/approval.js';
import { ROOT, runKeel as keel, type CliResult } from './__tests__/keel-process.js';

/*
 * `keel approvals`, `keel approve`, `keel deny` and `keel approvers add` as real processes:
 * exit codes, one JSON document with --json, one `keel:` line on any error.
 */

const LIBRARY = join(ROOT, 'src/index.js');
const directory = mkdtempSync(join(tmpdir(), 'keel-approval-cli-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const CONFIG = `
import { z } from 'zod';
import { defineAgent, defineTool, simulator } from ${JSON.stringify(LIBRARY)};
const refund = defineTool({
  name: 'issue_refund',
  description: 'Refund',
  input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
  effect: 'irreversible',
  run: async (input) => input,
});
export const agents = [
  defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({ script: [] }),
    tools: [refund],
    gates: { approverGroup: 'finance' },
  }),
];
`;
const CONFIG_PATH = join(directory, 'keel.config.ts');
writeFileSync(CONFIG_PATH, CONFIG);
// The config imports zod like a user's project would.
symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'));

function refundsAgent(executed: unknown[]): Agent {
  return defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({
      script: ({ step, lastToolResults }) =>
        step === 0
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1', amountCents: 700 } }] }
          : { text: lastToolResults.map((result) => result.content).join('') },
    }),
    tools: [
      defineTool({
        name: 'issue_refund',
        description: 'Refund',
        input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
        effect: 'irreversible',
        run(input) {
          executed.push(input);
          return Promise.resolve(input);
        },
      }),
    ],
    gates: { approverGroup: 'finance' },
  });
}

function failure(result: CliResult, code: number): string {
  expect(result.stdout).toBe('');
  expect(result.code).toBe(code);
  expect(result.stderr).toMatch(/^keel: [^\n]+\n$/);
  return result.stderr.trim();
}

async function parkedRun(storeUrl: string, executed: unknown[]) {
  const store = await openStore(storeUrl);
  const runtime = createRuntime({ store, agents: [refundsAgent(executed)] });
  const worker = runtime.startWorker({ pollMs: 10 });
  const record = await runtime.submit('refunds', 'Refund A-1');
  let approval: ApprovalRecord | undefined;
  while (!approval) {
    if ((await store.getRun(record.id))?.status === 'waiting')
      [approval] = await store.approvals.list({ runId: record.id });
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    approval,
    runtime,
    async close() {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    },
  };
}

describe('keel approvals / approve / deny', () => {
  it('denies through the CLI: the tool never runs and the run goes on', async () => {
    const storeUrl = `sqlite:${join(directory, 'deny.db')}`;
    const executed: unknown[] = [];
    const { approval, runtime, close } = await parkedRun(storeUrl, executed);
    try {
      const added = await keel(storeUrl, [
        'approvers',
        'add',
        'fin',
        '--group',
        'finance',
        '--json',
      ]);
      expect(added.code).toBe(0);
      const { token } = JSON.parse(added.stdout) as { token: string };
      expect(token).toMatch(/^keel_apr_/);

      const listed = await keel(storeUrl, ['approvals', '--state', 'pending']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(
        `${approval.id}  pending  issue_refund {"amountCents":700,"orderId":"A-1"}`,
      );
      expect(listed.stdout).toContain("why: the tool's effect is irreversible");

      const denied = await keel(
        storeUrl,
        ['deny', approval.id, '--reason', 'not this one', '--json'],
        token,
      );
      expect(denied.stderr).toBe('');
      expect(JSON.parse(denied.stdout)).toMatchObject({
        id: approval.id,
        state: 'denied',
        decidedBy: 'fin',
        reason: 'not this one',
      });
      const result = await runtime.wait(approval.runId, { pollMs: 10 });
      expect(result.status).toBe('succeeded');
      expect(result.output).toContain('"reason":"not this one"');
      expect(executed).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);

  it('approves with edited arguments validated by the loaded agents, and refuses bad input in one line', async () => {
    const storeUrl = `sqlite:${join(directory, 'edit.db')}`;
    const executed: unknown[] = [];
    const { approval, runtime, close } = await parkedRun(storeUrl, executed);
    try {
      const support = JSON.parse(
        (await keel(storeUrl, ['approvers', 'add', 'sup', '--group', 'support', '--json'])).stdout,
      ) as { token: string };
      const finance = JSON.parse(
        (await keel(storeUrl, ['approvers', 'add', 'fin', '--group', 'finance', '--json'])).stdout,
      ) as { token: string };

      expect(failure(await keel(storeUrl, ['approve', approval.id]), 2)).toMatch(
        /approver token is required/,
      );
      expect(
        failure(
          await keel(
            storeUrl,
            ['approve', approval.id, '--hash', approval.argsHash],
            support.token,
          ),
          2,
        ),
      ).toMatch(/sup is not in group "finance"/);
      expect(failure(await keel(storeUrl, ['approve', approval.id], finance.token), 2)).toMatch(
        /--hash is required/,
      );
      expect(
        failure(
          await keel(storeUrl, ['approve', approval.id, '--hash', 'stale'], finance.token),
          1,
        ),
      ).toMatch(/stale or replayed decision/);
      expect(
        failure(await keel(storeUrl, ['approve', approval.id, '--edit', '{bad'], finance.token), 2),
      ).toBe('keel: --edit is not valid JSON');
      expect(
        failure(
          await keel(
            storeUrl,
            [
              '--agents',
              CONFIG_PATH,
              'approve',
              approval.id,
              '--hash',
              approval.argsHash,
              '--edit',
              '{"orderId":"A-1","amountCents":-1}',
            ],
            finance.token,
          ),
          2,
        ),
      ).toMatch(/edited arguments do not match issue_refund's input schema/);
      expect(failure(await keel(storeUrl, ['approve', 'apr_nope'], finance.token), 2)).toBe(
        'keel: no approval apr_nope',
      );
      expect(failure(await keel(storeUrl, ['approvals', '--state', 'maybe']), 2)).toMatch(
        /--state must be one of pending, approved, denied, expired, escalated/,
      );

      const approved = await keel(
        storeUrl,
        [
          '--agents',
          CONFIG_PATH,
          'approve',
          approval.id,
          '--hash',
          approval.argsHash,
          '--edit',
          '{"orderId":"A-1","amountCents":300}',
        ],
        finance.token,
      );
      expect(approved.stderr).toBe('');
      expect(approved.stdout).toContain('"amountCents": 700');
      expect(approved.stdout).toContain(
        `${approval.id} approved by fin with {"amountCents":300,"orderId":"A-1"}`,
      );
      const result = await runtime.wait(approval.runId, { pollMs: 10 });
      expect(result.status).toBe('succeeded');
      expect(executed).toEqual([{ orderId: 'A-1', amountCents: 300 }]);
    } finally {
      await close();
    }
  }, 90_000);
});

describe('keel approvers add --role', () => {
  it('makes viewers, approvers and admins, and a viewer token cannot decide', async () => {
    const storeUrl = `sqlite:${join(directory, 'roles.db')}`;
    const executed: unknown[] = [];
    const { approval, close } = await parkedRun(storeUrl, executed);
    try {
      const viewer = await keel(storeUrl, [
        'approvers',
        'add',
        'vic',
        '--group',
        'finance',
        '--role',
        'viewer',
        '--json',
      ]);
      const admin = await keel(storeUrl, ['approvers', 'add', 'root', '--role', 'admin', '--json']);
      expect([viewer.code, admin.code]).toEqual([0, 0]);
      const parsed = [viewer, admin].map(
        (result) => JSON.parse(result.stdout) as { role: string; groups: string[]; token: string },
      );
      expect(parsed.map(({ role, groups }) => ({ role, groups }))).toEqual([
        { role: 'viewer', groups: ['finance'] },
        { role: 'admin', groups: [] },
      ]);
      expect(failure(await keel(storeUrl, ['approvers', 'add', 'nogroup']), 2)).toBe(
        'keel: --group is required (unless --role admin)',
      );
      expect(
        failure(
          await keel(storeUrl, ['approvers', 'add', 'x', '--group', 'g', '--role', 'boss']),
          2,
        ),
      ).toBe(
        "keel: option '--role <role>' argument 'boss' is invalid. Allowed choices are viewer, approver, admin. (see --help)",
      );
      expect(failure(await keel(storeUrl, ['approve', approval.id], parsed[0]?.token), 2)).toMatch(
        /vic is a viewer/,
      );
      expect(executed).toEqual([]);
    } finally {
      await close();
    }
  }, 60_000);
});
