import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { formatRunsTable, formatShow, withJournalTotals } from './format.js';
import { readTask, waitingNotice } from './run-commands.js';
import { foldRun } from '../journal/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function stdinOf(text: string, isTTY = false): NodeJS.ReadableStream & { isTTY: boolean } {
  return Object.assign(Readable.from([Buffer.from(text)]), {
    isTTY,
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return KeelError.isInstance(error) ? error.code : undefined;
}

describe('readTask', () => {
  it('takes --task, a --task-file, or stdin with --task-file -', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-task-'));
    cleanups.push(() => {
      rmSync(directory, { recursive: true, force: true });
    });
    const file = join(directory, 'task.txt');
    writeFileSync(file, 'a long task\nover two lines');
    expect(await readTask({ task: 'short' })).toBe('short');
    expect(await readTask({ taskFile: file })).toBe('a long task\nover two lines');
    expect(await readTask({ taskFile: '-' }, stdinOf('from a pipe'))).toBe('from a pipe');
  });

  it('refuses both, neither, an unreadable file, a terminal stdin and an empty task', async () => {
    expect(await codeOf(readTask({ task: 'a', taskFile: 'b' }))).toBe('invalid_input');
    expect(await codeOf(readTask({}))).toBe('invalid_input');
    expect(await codeOf(readTask({ taskFile: '/nonexistent/task.txt' }))).toBe('invalid_input');
    expect(await codeOf(readTask({ taskFile: '-' }, stdinOf('', true)))).toBe('invalid_input');
    expect(await codeOf(readTask({ task: '  \n' }))).toBe('invalid_input');
  });
});

describe('a run waiting for a human, as the CLI shows it', () => {
  async function parkedRun(price: null | undefined): Promise<{ store: Store; runId: string }> {
    const store = await openStore('sqlite::memory:');
    const refund = defineTool({
      name: 'issue_refund',
      description: 'Refund an order',
      input: z.object({ orderId: z.string() }),
      effect: 'irreversible',
      run: () => Promise.resolve({ ok: true }),
    });
    const agent = defineAgent({
      name: 'refunds',
      instructions: 'Refund.',
      model: simulator({
        ...(price === null ? { price: null } : {}),
        script: ({ step }) =>
          step === 0
            ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] }
            : { text: 'done' },
      }),
      tools: [refund],
      gates: {},
    });
    const runtime = createRuntime({ store, agents: [agent] });
    cleanups.push(async () => {
      await runtime.close();
      await store.close();
    });
    const worker = runtime.startWorker({ pollMs: 10 });
    cleanups.push(() => worker.stop({ abortInFlight: true }));
    const record = await runtime.submit('refunds', 'Refund A-1');
    for (let tries = 0; (await store.getRun(record.id))?.status !== 'waiting'; tries++) {
      if (tries > 500) throw new Error('the run never parked');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { store, runId: record.id };
  }

  it('lists its steps, tokens and cost from the journal, not zeros from the unfinished row', async () => {
    const { store, runId } = await parkedRun(undefined);
    const [listed] = await withJournalTotals(store, await store.listRuns({ limit: 5 }));
    expect(listed).toMatchObject({ id: runId, status: 'waiting', steps: 1 });
    expect(listed!.inputTokens).toBeGreaterThan(0);
    expect(listed!.costUsd).toBeGreaterThan(0);
    expect(formatRunsTable([listed!])).not.toContain('$0.000000');
  });

  it('says "unknown" for the cost of a model without a price, never $0', async () => {
    const { store, runId } = await parkedRun(null);
    const [listed] = await withJournalTotals(store, await store.listRuns({ limit: 5 }));
    expect(listed!.costUsd).toBeNull();
    expect(formatRunsTable([listed!])).toContain('unknown');
    const events = await store.readEvents(runId);
    const shown = formatShow(
      (await store.getRun(runId))!,
      foldRun(events.map((entry) => entry.event)),
      events,
    );
    expect(shown).toContain('cost unknown');
    expect(shown).not.toContain('$0.000000');
  });

  it('prints the approval, its group and the exact approve command', async () => {
    const { store, runId } = await parkedRun(undefined);
    const [approval] = await store.approvals.list({ runId, states: ['pending'] });
    const notice = waitingNotice(approval!);
    expect(notice).toContain(`waiting for approval ${approval!.id}`);
    expect(notice).toContain('group "approvers"');
    expect(notice).toContain(`keel approve ${approval!.id} --hash ${approval!.argsHash}`);
    expect(notice).toContain('any `keel worker` resumes it');
  });
});
