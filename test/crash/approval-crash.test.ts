import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, openStore } from '../../src/index.js';
import { APPROVAL_AGENT, createApprovalAgents } from './approval-agents.js';
import { readSideEffects } from './crash-agents.js';

/*
 * A gated call survives the death of every process that saw it: the run parks waiting for a
 * human, its worker is killed with SIGKILL, a new worker starts, a person approves through the
 * `keel` CLI (a separate process), and the new worker resumes the run. The refund runs exactly
 * once, with the call's idempotency key.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./approval-worker.ts', import.meta.url));
const CLI = join(ROOT, 'src/cli/main.ts');
const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const postgresReachable =
  process.env.KEEL_TEST_POSTGRES_URL !== undefined || (await canConnect(POSTGRES_URL));

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const BACKENDS = [
  { name: 'sqlite', enabled: true },
  { name: 'postgres', enabled: postgresReachable },
] as const;

describe('approval across a crash', () => {
  for (const backend of BACKENDS) {
    it.skipIf(!backend.enabled)(
      `resumes an approved run on another worker after its worker was killed, running the tool once (${backend.name})`,
      async () => {
        const directory = mkdtempSync(join(tmpdir(), 'keel-approval-crash-'));
        cleanups.push(() => rm(directory, { recursive: true, force: true }));
        const logPath = join(directory, 'side-effects.log');
        let url = `sqlite:${join(directory, 'keel.db')}`;
        if (backend.name === 'postgres') {
          const schema = `keel_ac_${randomBytes(6).toString('hex')}`;
          url = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
          cleanups.push(() =>
            withPostgres((client) => client.query(`drop schema if exists ${schema} cascade`)),
          );
        }
        const store = await openStore(url);
        cleanups.push(() => store.close());
        const runtime = createRuntime({ store, agents: createApprovalAgents({ logPath }) });

        const created = await cli(['approvers', 'add', 'fin', '--group', 'finance', '--json'], url);
        expect(created.code).toBe(0);
        const { token } = JSON.parse(created.stdout) as { token: string };

        const first = await startWorker(url, logPath);
        const record = await runtime.submit(APPROVAL_AGENT, 'Refund order A-7');
        await until(
          async () => (await store.getRun(record.id))?.status === 'waiting',
          'the run to wait',
        );
        first.process.kill('SIGKILL');
        await first.exited;

        const listed = await cli(['approvals', '--state', 'pending', '--json'], url);
        expect(listed.code).toBe(0);
        const [pending] = (
          JSON.parse(listed.stdout) as {
            approvals: { id: string; args: unknown; argsHash: string }[];
          }
        ).approvals;
        expect(pending?.args).toEqual({ orderId: 'A-7', amountCents: 1250 });
        expect(readSideEffects(logPath)).toEqual([]);

        const second = await startWorker(url, logPath);
        const unauthenticated = await cli(['approve', pending!.id], url, {
          KEEL_APPROVER_TOKEN: '',
        });
        expect(unauthenticated.code).toBe(2);
        expect(unauthenticated.stderr).toMatch(/^keel: an approver token is required/);
        const approved = await cli(
          ['approve', pending!.id, '--reason', 'verified', '--hash', pending!.argsHash],
          url,
          {
            KEEL_APPROVER_TOKEN: token,
          },
        );
        expect(approved.stderr).toBe('');
        expect(approved.code).toBe(0);
        expect(approved.stdout).toContain(`${pending!.id} approved by fin`);

        const result = await runtime.wait(record.id, { pollMs: 20 });
        expect(result.status).toBe('succeeded');
        expect(result.output).toBe('done: {"refunded":1250,"orderId":"A-7"}');
        const effects = readSideEffects(logPath);
        expect(effects.map((line) => [line.phase, line.key])).toEqual([
          ['begin', `${record.id}:0:0`],
          ['end', `${record.id}:0:0`],
        ]);
        const events = (await store.readEvents(record.id)).map((entry) => entry.event);
        const claims = events.filter((event) => event.type === 'run_claimed');
        expect(claims.map((claim) => claim.workerId)).toEqual([first.workerId, second.workerId]);
        expect(events.filter((event) => event.type === 'tool_started')).toHaveLength(1);
        expect(events.find((event) => event.type === 'approval_decided')).toMatchObject({
          decision: 'approved',
          decidedBy: 'fin',
          reason: 'verified',
        });
        await expectReplayRefused(url, pending!.id, pending!.argsHash, token);
      },
      60_000,
    );
  }
});

async function expectReplayRefused(
  url: string,
  id: string,
  hash: string,
  token: string,
): Promise<void> {
  const replay = await cli(['approve', id, '--hash', hash], url, { KEEL_APPROVER_TOKEN: token });
  expect(replay.code).toBe(1);
  expect(replay.stderr).toMatch(/^keel: approval .* is already approved by fin\n$/);
}

interface WorkerProcess {
  readonly process: ChildProcess;
  readonly workerId: string;
  readonly exited: Promise<void>;
}

async function startWorker(url: string, logPath: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, KEEL_STORE: url, CRASH_LOG: logPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const workerId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`worker not ready in 20 s: ${stderr}`));
    }, 20_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /ready (\S+)\n/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${String(code)}) before ready: ${stderr}`));
    });
  });
  return { process: child, workerId, exited };
}

function cli(
  args: string[],
  storeUrl: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, KEEL_STORE: storeUrl, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

async function until(
  probe: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function canConnect(url: string): Promise<boolean> {
  try {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function withPostgres(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
