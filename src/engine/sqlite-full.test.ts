import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator } from '../model/index.js';
import { openStore } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { mountTinyDisk } from '../../test/support/tiny-disk.js';
import { createRuntime } from './index.js';

/**
 * A SQLite store whose disk fills up, on a real (tiny) tmpfs: a one-line fault naming the store,
 * the file intact, and work going on once there is room. Mounting needs root; elsewhere these
 * skip. Each test has a disk of its own: a closed store's file stays open until its prepared
 * statements are collected (libsql closes then), so space a test deleted could come back in the
 * middle of the next one and let a write through that should have found the disk full.
 */
const disk = mountTinyDisk(2_048);
const workerDisk = disk ? mountTinyDisk(2_048) : undefined;

describe.skipIf(!disk || !workerDisk)('a SQLite store on a full disk', () => {
  afterEach(() => {
    for (const each of [disk, workerDisk]) {
      each?.free();
      for (const file of each ? readdirSync(each.directory) : [])
        if (file !== 'filler') rmSync(join(each?.directory ?? '', file), { force: true });
    }
  });

  afterAll(() => {
    disk?.unmount();
    workerDisk?.unmount();
  });

  it('refuses a write with one line naming the store, keeps what it held, and writes once there is room', async () => {
    if (!disk) return;
    const path = join(disk.directory, 'full.db');
    const store = await openStore(`sqlite:${path}`);
    const run = (id: string, task: string) =>
      store.createRun({ id, agent: 'a', task, createdAt: Date.now(), events: [] });
    await run('kept', 'written before the disk filled');
    disk.fill();
    const error: unknown = await run('refused', 'x'.repeat(50_000)).catch(
      (caught: unknown) => caught,
    );
    const fault = KeelError.isInstance(error) ? error : undefined;
    expect({
      code: fault?.code,
      lines: fault?.message.split('\n').length,
      namesTheStore: fault?.message.includes(path),
      saysFull: fault?.message.startsWith(`the SQLite store at ${path} is full: no room`),
      kept: (await store.getRun('kept'))?.task,
      refused: await store.getRun('refused'),
    }).toEqual({
      code: 'store_unavailable',
      lines: 1,
      namesTheStore: true,
      saysFull: true,
      kept: 'written before the disk filled',
      refused: undefined,
    });
    // Another connection finds the file sound.
    const check = new Database(path, { readonly: true });
    expect(
      (check.prepare('pragma integrity_check').get() as { integrity_check: string })
        .integrity_check,
    ).toBe('ok');
    check.close();
    disk.free();
    await run('after', 'written once there was room');
    expect((await store.listRuns({ limit: 10 })).map((record) => record.id).sort()).toEqual([
      'after',
      'kept',
    ]);
    await store.close();
  });

  it('a worker whose disk fills mid-run reports it in one line, keeps running, and finishes the run once there is room', async () => {
    const disk = workerDisk;
    if (!disk) return;
    const path = join(disk.directory, 'worker.db');
    const store = await openStore(`sqlite:${path}`);
    let filled = false;
    let truncated: unknown;
    const archive = defineTool({
      name: 'archive',
      description: 'Archive the ticket',
      input: z.object({}),
      effect: 'read',
      run: async () => {
        // The disk fills while the tool runs: the journal write of its result finds no room.
        if (!filled) {
          filled = true;
          // A journal write started with the step may still hold the write lock, for the
          // statements of its transaction (never across an await of I/O): after them.
          await new Promise((resolve) => setImmediate(resolve));
          // The write-ahead log keeps its size after a checkpoint, and writes that fit in it
          // need no new blocks: emptied first, the result's commit has to grow it.
          const other = new Database(path);
          truncated = other.pragma('wal_checkpoint(TRUNCATE)');
          other.close();
          disk.fill();
        }
        return `archived ${'y'.repeat(20_000)}`;
      },
    });
    const agent = defineAgent({
      name: 'archivist',
      model: simulator({
        script: ({ step }) =>
          step === 0 ? { toolCalls: [{ name: 'archive', args: {} }] } : { text: 'Archived.' },
      }),
      instructions: 'Archive the ticket.',
      tools: [archive],
    });
    // Heartbeats far apart: the disk fills between the tool's start and its result's commit,
    // which is what reports it; a heartbeat landing in that window on a busy machine would
    // meet the full disk first.
    const runtime = createRuntime({ store, agents: [agent], leaseMs: 3_000 });
    const errors: string[] = [];
    const worker = runtime.startWorker({
      pollMs: 20,
      onError(_runId, error) {
        errors.push(error instanceof Error ? error.message : String(error));
        // Someone frees space; the run resumes after its lease, on this same worker.
        disk.free();
      },
    });
    const { id } = await runtime.submit('archivist', 'Archive ticket 7.');
    const result = await runtime.wait(id, { pollMs: 20 });
    await worker.stop();
    expect({
      status: result.status,
      output: result.output,
      firstError: errors[0]?.split('\n').length,
      namesTheStore: errors[0]?.includes(path),
      saysFull: errors[0]?.startsWith(`the SQLite store at ${path} is full: no room`),
      truncated,
    }).toEqual({
      status: 'succeeded',
      output: 'Archived.',
      truncated: [{ busy: 0, log: 0, checkpointed: 0 }],
      firstError: 1,
      namesTheStore: true,
      saysFull: true,
    });
    await runtime.close();
    await store.close();
  });
});
