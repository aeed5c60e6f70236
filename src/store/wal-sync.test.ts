import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type Store } from './index.js';

/*
 * A journal write on a SQLite file with `synchronous = full` commits under `normal` and then
 * fdatasyncs the WAL on libuv's thread pool: it resolves only once that sync has, and a failed
 * sync fails it. Other stores keep SQLite's own behaviour.
 */

const directories: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const store of stores.splice(0)) await store.close();
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function newFile(): string {
  const directory = mkdtempSync(join(tmpdir(), 'keel-wal-sync-'));
  directories.push(directory);
  return join(directory, 'keel.db');
}

async function store(url: string, sqliteSync?: 'full' | 'normal'): Promise<Store> {
  const opened = await openStore(url, sqliteSync ? { sqliteSync } : {});
  stores.push(opened);
  return opened;
}

async function newRun(target: Store, id: string): Promise<void> {
  await target.createRun({ id, agent: 'a', task: 't', createdAt: Date.now(), events: [] });
}

const append = (target: Store, runId: string, seq: number) =>
  target.append({
    runId,
    guard: { status: 'queued' },
    events: [{ seq, at: Date.now(), event: { type: 'cancel_requested', by: 'user' } }],
  });

/** Holds every fdatasync until `release`, then runs the real one; records the files synced. */
function holdSyncs() {
  const real = fs.fdatasync.bind(fs);
  const synced: { ino: number }[] = [];
  const waiting: (() => void)[] = [];
  let open = false;
  vi.spyOn(fs, 'fdatasync').mockImplementation(
    (descriptor: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
      synced.push({ ino: fs.fstatSync(descriptor).ino });
      const go = () => {
        real(descriptor, callback);
      };
      if (open) go();
      else waiting.push(go);
    },
  );
  return {
    synced,
    release() {
      open = true;
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe('a journal write on a SQLite file with synchronous = full', () => {
  it('resolves only after the WAL is synced', async () => {
    const file = newFile();
    const target = await store(`sqlite:${file}`);
    await newRun(target, 'r1');
    const syncs = holdSyncs();
    let resolved = false;
    const writing = append(target, 'r1', 1).then(() => {
      resolved = true;
    });
    await vi.waitFor(() => {
      expect(syncs.synced.length).toBeGreaterThan(0);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    syncs.release();
    await writing;
    expect(resolved).toBe(true);
    const wal = fs.statSync(`${file}-wal`).ino;
    expect(syncs.synced.every((each) => each.ino === wal)).toBe(true);
    expect((await target.readEvents('r1')).map((entry) => entry.seq)).toEqual([1]);
  });

  it('fails with a one-line store fault when the sync fails', async () => {
    const file = newFile();
    const target = await store(`sqlite:${file}`);
    await newRun(target, 'r2');
    vi.spyOn(fs, 'fdatasync').mockImplementation(
      (_descriptor: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
        const error: NodeJS.ErrnoException = new Error('EIO: i/o error, fdatasync');
        error.code = 'EIO';
        callback(error);
      },
    );
    const error: unknown = await append(target, 'r2', 1).catch((caught: unknown) => caught);
    expect(KeelError.isInstance(error) ? error.code : error).toBe('store_unavailable');
    expect(KeelError.isInstance(error) && error.message.split('\n')).toHaveLength(1);
  });
});

describe('a journal write SQLite syncs itself', () => {
  it.each([
    ['a file with synchronous = normal', 'normal' as const],
    ['an in-memory store', undefined],
  ])('issues no sync of its own on %s', async (_name, sqliteSync) => {
    const url = sqliteSync ? `sqlite:${newFile()}` : 'sqlite::memory:';
    const target = await store(url, sqliteSync);
    await newRun(target, 'r4');
    const syncs = holdSyncs();
    syncs.release();
    await append(target, 'r4', 1);
    expect(syncs.synced).toEqual([]);
  });
});
