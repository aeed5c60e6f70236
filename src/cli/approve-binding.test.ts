import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineTool,
  KeelError,
  openStore,
  simulator,
} from '../index.js';
import { decideCommand, type Confirmation } from './approval-actions.js';

/*
 * `keel approve` binds to the arguments a person reviewed: `--hash`, or the exact arguments
 * shown and confirmed at the terminal. Never silently to whatever is pending now.
 */

const directory = mkdtempSync(join(tmpdir(), 'keel-approve-binding-'));
afterAll(() => rm(directory, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

async function parked(name: string) {
  const storeUrl = `sqlite:${join(directory, `${name}.db`)}`;
  const store = await openStore(storeUrl);
  const agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1', amountCents: 700 } }] }
          : { text: 'done' },
    }),
    tools: [
      defineTool({
        name: 'issue_refund',
        description: 'Refund',
        input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
        effect: 'irreversible',
        run: (input) => Promise.resolve(input),
      }),
    ],
    gates: { approverGroup: 'finance' },
  });
  const runtime = createRuntime({ store, agents: [agent] });
  const worker = runtime.startWorker({ pollMs: 10 });
  const record = await runtime.submit('refunds', 'Refund A-1');
  while ((await store.getRun(record.id))?.status !== 'waiting')
    await new Promise((resolve) => setTimeout(resolve, 10));
  const [approval] = await store.approvals.list({ runId: record.id });
  const { token } = await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] });
  await worker.stop({ abortInFlight: true });
  await runtime.close();
  if (!approval) throw new Error('no approval');
  return {
    storeUrl,
    approval,
    token,
    store,
    state: async () => (await store.approvals.get(approval.id))?.state,
  };
}

function answering(answer: string, interactive = true): Confirmation & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    interactive,
    ask(text) {
      asked.push(text);
      return Promise.resolve(answer);
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (KeelError.isInstance(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('keel approve without --hash', () => {
  it('refuses outside a terminal: nothing is approved', async () => {
    const s = await parked('script');
    try {
      const refused = await codeOf(
        decideCommand(
          { store: s.storeUrl },
          () => undefined,
          s.approval.id,
          'approve',
          { token: s.token },
          undefined,
          answering('yes', false),
        ),
      );
      expect(refused).toMatch(/^invalid_input: --hash is required/);
      expect(await s.state()).toBe('pending');
    } finally {
      await s.store.close();
    }
  });

  it('shows the exact arguments and their hash, and cancels unless the answer is yes', async () => {
    const s = await parked('declined');
    try {
      const confirm = answering('y');
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const refused = await codeOf(
        decideCommand(
          { store: s.storeUrl },
          () => undefined,
          s.approval.id,
          'approve',
          { token: s.token },
          undefined,
          confirm,
        ),
      );
      expect(refused).toMatch(/^invalid_input: not approved/);
      expect(confirm.asked[0]).toContain('"amountCents": 700');
      expect(confirm.asked[0]).toContain(`hash ${s.approval.argsHash}`);
      expect(await s.state()).toBe('pending');
    } finally {
      await s.store.close();
    }
  });

  it('approves, bound to the hash shown, on yes', async () => {
    const s = await parked('confirmed');
    try {
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      await decideCommand(
        { store: s.storeUrl },
        () => undefined,
        s.approval.id,
        'approve',
        { token: s.token },
        undefined,
        answering('yes'),
      );
      expect(await s.state()).toBe('approved');
      const [entry] = await s.store.approvals.decisions(s.approval.id);
      expect(entry).toMatchObject({ outcome: 'accepted', argsHash: s.approval.argsHash });
    } finally {
      await s.store.close();
    }
  });
});
