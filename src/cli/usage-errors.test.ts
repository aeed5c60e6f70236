import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, InvalidArgumentError, type Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { describeFailure } from './exit-codes.js';
import { MAX_LIST_LIMIT } from '../core/index.js';
import { host, limit, nonNegativeInt, port, positiveInt } from './option-parsers.js';

/*
 * Bad input to the real `keel` program, parsed in this process: each case is one line naming
 * what was wrong and exit code 2, before anything is served, run or written.
 */

let program: Command;
const directory = mkdtempSync(join(tmpdir(), 'keel-usage-'));
const storeUrl = `sqlite:${join(directory, 'keel.db')}`;
let runId: string;

beforeAll(async () => {
  (globalThis as Record<symbol, unknown>)[Symbol.for('keel.cli.defineOnly')] = true;
  ({ program } = await import('./main.js'));
  const store = await openStore(storeUrl);
  const runtime = createRuntime({
    store,
    agents: [
      defineAgent({
        name: 'echoer',
        model: simulator({ script: [{ text: 'echoed' }] }),
        instructions: 'Echo.',
      }),
    ],
  });
  runId = (await runtime.run('echoer', 'hello')).id;
  await runtime.close();
  await store.close();
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** `keel --store <store> <args>` as main.ts ends it: the exit code and what stderr got. */
async function keel(...args: string[]): Promise<{ exitCode: number; line: string }> {
  const written: string[] = [];
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['--store', storeUrl, ...args], { from: 'user' });
    return { exitCode: 0, line: written.join('') };
  } catch (error) {
    if (error instanceof CommanderError)
      return { exitCode: error.exitCode === 0 ? 0 : 2, line: written.join('').trim() };
    return describeFailure(error);
  } finally {
    stderr.mockRestore();
  }
}

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeUrl);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

describe('the integer option parsers', () => {
  it('refuse blank text, which Number() reads as 0', () => {
    for (const parse of [positiveInt, nonNegativeInt, port, limit])
      for (const blank of ['', ' ', '\t']) expect(() => parse(blank)).toThrow(InvalidArgumentError);
  });

  it('refuse integers past 2^53, which the store cannot hold', () => {
    for (const parse of [positiveInt, nonNegativeInt])
      for (const huge of ['99999999999999999999', '9223372036854775807', '1e300'])
        expect(() => parse(huge)).toThrow(InvalidArgumentError);
    expect(positiveInt(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(nonNegativeInt('0')).toBe(0);
  });

  it('cap a --limit as the HTTP API caps ?limit=', () => {
    expect(limit(String(MAX_LIST_LIMIT))).toBe(MAX_LIST_LIMIT);
    expect(() => limit(String(MAX_LIST_LIMIT + 1))).toThrow(InvalidArgumentError);
    expect(() => limit('0')).toThrow(InvalidArgumentError);
  });

  it('refuse an empty --host, which would listen on every interface', () => {
    expect(() => host('')).toThrow(InvalidArgumentError);
    expect(() => host('  ')).toThrow(InvalidArgumentError);
    expect(host('0.0.0.0')).toBe('0.0.0.0');
  });
});

describe('keel refuses bad input with one line and exit code 2', () => {
  it.each([
    { args: ['serve', '--port', '0', '--host', ''], names: '--host' },
    { args: ['mcp', 'serve', '--http', '0', '--host', ''], names: '--host' },
    { args: ['runs', '--limit', '99999999999999999999'], names: '--limit' },
    { args: ['runs', '--limit', '9223372036854775807'], names: '--limit' },
    { args: ['runs', '--limit', String(MAX_LIST_LIMIT + 1)], names: '--limit' },
    { args: ['approvals', '--limit', '99999999999999999999'], names: '--limit' },
    { args: ['eval', 'list', '--limit', '99999999999999999999'], names: '--limit' },
    { args: ['prices', 'recompute', '--limit', '9223372036854775807'], names: '--limit' },
    { args: ['fork', 'run_x', '--from-step', ''], names: '--from-step' },
    { args: ['serve', '--port', ''], names: '--port' },
    { args: ['mcp', 'serve', '--http', ''], names: '--http' },
    { args: ['worker', '--wait-for-store', ''], names: '--wait-for-store' },
    { args: ['trace', 'run_x', '--reveal'], names: '--reveal needs --content' },
    { args: ['mcp', 'serve', '--bearer', 'secret'], names: '--bearer' },
    { args: ['mcp', 'serve', '--host', '0.0.0.0'], names: '--host' },
    {
      args: ['eval', join(directory, 'missing.eval.json'), '--junit', '/nonexistent/dir/j.xml'],
      names: 'cannot write /nonexistent/dir/j.xml (--junit)',
    },
    {
      args: ['eval', 'rescore', 'ev_0', '--junit', '/nonexistent/dir/j.xml'],
      names: 'cannot write /nonexistent/dir/j.xml (--junit)',
    },
    {
      args: ['mcp', 'export', '--out', '/nonexistent/dir/x.lock'],
      names: 'cannot write /nonexistent/dir/x.lock (--out)',
    },
    {
      args: ['approvers', 'add', 'x', '--group', 'g', '--expires-in', '999999999d'],
      names: '--expires-in is at most 36500d',
    },
  ])('keel $args', async ({ args, names }) => {
    const { exitCode, line } = await keel(...args);
    expect({ exitCode, oneLine: !line.trim().includes('\n') }).toEqual({
      exitCode: 2,
      oneLine: true,
    });
    expect(line).toContain(names);
  });

  it('records no golden case into a suite it cannot write', async () => {
    const { exitCode, line } = await keel(
      'eval',
      'record',
      runId,
      '--suite',
      '/nonexistent/dir/x.eval.json',
    );
    expect({ exitCode, line }).toEqual({
      exitCode: 2,
      line: 'keel: cannot write /nonexistent/dir/x.eval.json (--suite): its directory does not exist',
    });
  });

  it('re-prices as many runs as asked: its --limit is a batch, not a page of a listing', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await keel('prices', 'recompute', '--limit', '50000', '--dry-run')).toEqual({
        exitCode: 0,
        line: '',
      });
    } finally {
      stdout.mockRestore();
    }
  });

  it('re-prices no run that does not exist, and saves nothing for it', async () => {
    for (const dryRun of [[], ['--dry-run']]) {
      const { exitCode, line } = await keel(
        'prices',
        'recompute',
        '--run',
        runId,
        'run_nope',
        ...dryRun,
      );
      expect({ exitCode, line }).toEqual({
        exitCode: 2,
        line: `keel: no run run_nope in ${join(directory, 'keel.db')}`,
      });
    }
    expect(
      await withStore(async (store) => [
        await store.prices.get('run_nope'),
        await store.prices.get(runId),
      ]),
    ).toEqual([undefined, undefined]);
  });

  it('adds no admin with groups: an admin has every group', async () => {
    const { exitCode, line } = await keel(
      'approvers',
      'add',
      'admin2',
      '--role',
      'admin',
      '--group',
      'finance',
    );
    expect({ exitCode, line }).toEqual({
      exitCode: 2,
      line: 'keel: --group does not apply to --role admin: an admin has every group',
    });
    expect(await withStore((store) => store.approvals.listApprovers())).toEqual([]);
  });
});
