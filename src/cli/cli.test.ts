import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, defineAgent, openStore, simulator, type Agent } from '../index.js';

/*
 * The `keel` CLI as people and scripts meet it: a real process started from source, in a
 * fresh working directory, judged by its exit code, its stdout (one JSON document with
 * `--json`) and its stderr (one `keel: ...` line on any error, never a stack trace).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const LIBRARY = join(ROOT, 'src/index.js');

/** Two simulator agents: `echoer` calls its tool once and answers; `looper` never stops. */
const CONFIG = `
import { z } from 'zod';
import { defineAgent, defineTool, simulator } from ${JSON.stringify(LIBRARY)};

const echo = defineTool({
  name: 'echo',
  description: 'Echo the text back',
  input: z.object({ text: z.string() }),
  effect: 'read',
  async run({ text }) {
    return { echoed: text };
  },
});

export const agents = [
  defineAgent({
    name: 'echoer',
    description: 'Echoes the task once, then answers.',
    model: simulator({
      script: ({ step, task }) =>
        step === 0 ? { toolCalls: [{ name: 'echo', args: { text: task } }] } : { text: 'echoed: ' + task },
    }),
    instructions: 'Echo the task, then answer with it.',
    tools: [echo],
  }),
  defineAgent({
    name: 'looper',
    description: 'Calls echo with the same arguments forever.',
    model: simulator({ script: () => ({ toolCalls: [{ name: 'echo', args: { text: 'again' } }] }) }),
    instructions: 'Loop.',
    tools: [echo],
    limits: { maxIdenticalCalls: 2, maxStepsWithoutProgress: 10 },
  }),
];
`;

/** The config's agents as the test process submits runs for them (scripts are not used here). */
const SUBMITTING_AGENTS: Agent[] = ['echoer', 'looper'].map((name) =>
  defineAgent({ name, model: simulator({ script: [] }), instructions: 'Submitted only.' }),
);

interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface AgentsJson {
  source: string;
  agents: { name: string; tools: unknown }[];
}

interface RunJson {
  id: string;
  status: string;
  reason: unknown;
  output: string | null;
  steps: number;
  usage: { inputTokens: number; outputTokens: number; costUsd: number | null };
  model: { provider: string; modelId: string; description: string };
}

const directories: string[] = [];
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(directories.map((path) => rm(path, { recursive: true, force: true })));
});

/** A fresh working directory (so `.keel/keel.db` is new), optionally with a keel.config.ts. */
function workspace(config?: string): string {
  const directory = realpathSync(mkdtempSync(join(tmpdir(), 'keel-cli-')));
  directories.push(directory);
  // `--import tsx` and the config's `import 'zod'` resolve from the working directory.
  symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'), 'dir');
  if (config !== undefined) writeFileSync(join(directory, 'keel.config.ts'), config);
  return directory;
}

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.KEEL_STORE;
  delete env.KEEL_MODEL;
  delete env.FORCE_COLOR;
  return { ...env, ...extra };
}

function keel(cwd: string, args: readonly string[], env?: Record<string, string>): CliResult {
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd,
    env: childEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Exit code 0, nothing on stderr, and stdout is exactly one JSON document. */
function json(result: CliResult): unknown {
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout);
}

/** The exit code, nothing on stdout, and exactly one `keel:` line on stderr without a stack. */
function expectFailure(result: CliResult, exitCode: number): string {
  const lines = result.stderr.replace(/\n$/, '').split('\n');
  expect(lines).toEqual([expect.stringMatching(/^keel: \S/)]);
  expect(result.stderr).not.toContain('    at ');
  expect(result.stderr).not.toContain('node:internal');
  expect(result.stdout).toBe('');
  expect(result.status).toBe(exitCode);
  return lines[0] ?? '';
}

function storeUrl(directory: string): string {
  return `sqlite:${join(directory, '.keel/keel.db')}`;
}

/** Queue runs of `echoer` in this process, as another service would, and close the store. */
async function submitEchoRuns(url: string, tasks: readonly string[]): Promise<string[]> {
  const store = await openStore(url);
  try {
    const runtime = createRuntime({ store, agents: SUBMITTING_AGENTS });
    const ids: string[] = [];
    for (const task of tasks) ids.push((await runtime.submit('echoer', task)).id);
    return ids;
  } finally {
    await store.close();
  }
}

describe('keel CLI', () => {
  it('lists every command when asked for --help', () => {
    const result = keel(workspace(), ['--help']);

    expect(result.status).toBe(0);
    const commands = [...result.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((match) => match[1]);
    expect(commands).toEqual(
      expect.arrayContaining(['agents', 'run', 'runs', 'show', 'worker', 'cancel', 'demo']),
    );
  });

  it('ends quietly when its reader stops reading (keel agents | head)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'agents'], {
      cwd: workspace(),
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Closed before the CLI has started: its first write meets a pipe nobody reads.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('lists the demo agents when there is no keel.config.ts', () => {
    const document = json(keel(workspace(), ['agents', '--json'])) as AgentsJson;

    expect(document.agents.map((agent) => agent.name)).toEqual([
      'refunds',
      'payments',
      'account',
      'general',
    ]);
    expect(document.source).toMatch(/demo/);
  });

  it("lists the config's agents when there is a keel.config.ts", () => {
    const directory = workspace(CONFIG);

    const document = json(keel(directory, ['agents', '--json'])) as AgentsJson;

    expect(document.source).toBe(join(directory, 'keel.config.ts'));
    expect(document.agents.map(({ name, tools }) => ({ name, tools }))).toEqual([
      { name: 'echoer', tools: [{ name: 'echo', effect: 'read' }] },
      { name: 'looper', tools: [{ name: 'echo', effect: 'read' }] },
    ]);
  });

  describe('run', () => {
    it('prints one JSON document of a succeeded run on the simulator', () => {
      const document = json(
        keel(workspace(CONFIG), ['run', 'echoer', '--task', 'say hi', '--json']),
      ) as RunJson;

      expect(document).toEqual({
        id: expect.stringMatching(/^run_/),
        agent: 'echoer',
        status: 'succeeded',
        reason: { type: 'final_answer' },
        reasonText: expect.any(String),
        output: 'echoed: say hi',
        steps: 2,
        usage: {
          inputTokens: expect.any(Number),
          outputTokens: expect.any(Number),
          costUsd: expect.any(Number),
        },
        model: {
          provider: 'simulator',
          modelId: 'simulator',
          description: expect.stringContaining('no real model was called'),
        },
        // No approval was waited on.
        approvals: [],
      });
      expect(document.usage.inputTokens).toBeGreaterThan(0);
      expect(document.usage.outputTokens).toBeGreaterThan(0);
    });

    it('--stream prints the text on stdout and the events on stderr', () => {
      const result = keel(workspace(CONFIG), ['run', 'echoer', '--task', 'say hi', '--stream']);

      expect(result.status).toBe(0);
      expect(result.stdout).toBe('echoed: say hi\n');
      expect(result.stderr).toMatch(/^· run run_\S+ \(echoer on simulator:simulator\)$/m);
      expect(result.stderr).toMatch(/^· echo \{"text":"say hi"\}$/m);
      expect(result.stderr).toMatch(/^· echo → ok \(trusted\)$/m);
      expect(result.stderr).toMatch(/^· succeeded after 2 step\(s\)$/m);
    });

    it('--stream --json prints one JSON event per line, ending with the result', () => {
      const result = keel(workspace(CONFIG), [
        'run',
        'echoer',
        '--task',
        'say hi',
        '--stream',
        '--json',
      ]);

      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const events = result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; text?: string; result?: RunJson });
      expect(events[0]?.type).toBe('run_started');
      expect(events.at(-1)).toMatchObject({
        type: 'run_finished',
        result: { status: 'succeeded', output: 'echoed: say hi' },
      });
      const deltas = events.filter((event) => event.type === 'text_delta');
      expect(deltas.map((event) => event.text).join('')).toBe('echoed: say hi');
    });

    it('prints the status and says the simulator ran when not asked for JSON', () => {
      const result = keel(workspace(CONFIG), ['run', 'echoer', '--task', 'say hi']);

      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^status\s+succeeded\b/m);
      expect(result.stdout).toMatch(/^.*simulator.*no real model was called.*$/m);
      expect(result.stdout).toMatch(/^output\s+echoed: say hi$/m);
    });

    it('exits 1 with status stopped when a looping run hits the identical-calls limit', () => {
      const result = keel(workspace(CONFIG), ['run', 'looper', '--task', 'loop', '--json']);

      expect(result.stderr).toBe('');
      expect(result.status).toBe(1);
      const document = JSON.parse(result.stdout) as RunJson;
      expect(document.status).toBe('stopped');
      expect(document.reason).toEqual({
        type: 'limit',
        limit: 'identical_calls',
        used: 3,
        max: 2,
      });
      expect(document.output).toBeNull();
    });
  });

  describe('bad usage', () => {
    const configured = workspace(CONFIG);
    const bare = workspace();
    const noAgents = workspace('export const nothing = 1;\n');

    it.each([
      { what: 'an unknown agent', cwd: configured, args: ['run', 'nope', '--task', 'x'] },
      {
        what: 'an unknown agent with --json',
        cwd: configured,
        args: ['run', 'nope', '--task', 'x', '--json'],
      },
      { what: 'a missing --task', cwd: configured, args: ['run', 'echoer'] },
      { what: '--limit 0', cwd: bare, args: ['runs', '--limit', '0'] },
      { what: 'an unknown --status', cwd: bare, args: ['runs', '--status', 'bogus'] },
      { what: 'show of an unknown run', cwd: bare, args: ['show', 'run_doesnotexist'] },
      { what: 'an unsupported store URL', cwd: bare, args: ['--store', 'mysql://x', 'runs'] },
      { what: 'a config that exports no agents', cwd: noAgents, args: ['agents'] },
      {
        what: 'an unknown --model',
        cwd: configured,
        args: ['run', 'echoer', '--task', 'x', '--model', 'nonsense:x'],
      },
    ])('exits 2 with one line on $what', ({ cwd, args }) => {
      expectFailure(keel(cwd, args), 2);
    });
  });

  describe('broken infrastructure', () => {
    it('exits 1 with one line when the SQLite file is not a database', () => {
      const directory = workspace();
      const file = join(directory, 'garbage.db');
      writeFileSync(
        file,
        Buffer.from('\x8f\x01 this is not a SQLite database \xfe\xff'.repeat(300)),
      );

      const line = expectFailure(keel(directory, ['--store', `sqlite:${file}`, 'runs']), 1);

      expect(line).toContain(file);
    });

    it('exits 1 with one line when PostgreSQL is unreachable', () => {
      expectFailure(keel(workspace(), ['--store', 'postgres://postgres@127.0.0.1:1/x', 'runs']), 1);
    });
  });

  describe('runs and show', () => {
    it('lists runs newest first and shows a run with its whole journal', () => {
      const directory = workspace(CONFIG);
      const first = json(keel(directory, ['run', 'echoer', '--task', 'one', '--json'])) as RunJson;
      const second = json(keel(directory, ['run', 'echoer', '--task', 'two', '--json'])) as RunJson;

      const { runs } = json(keel(directory, ['runs', '--json'])) as {
        runs: { id: string; status: string; task: string }[];
      };
      expect(runs.map(({ id, status, task }) => ({ id, status, task }))).toEqual([
        { id: second.id, status: 'succeeded', task: 'two' },
        { id: first.id, status: 'succeeded', task: 'one' },
      ]);

      const shown = json(keel(directory, ['show', first.id, '--json'])) as {
        run: { id: string; status: string };
        state: { status: string; output: string | null; steps: number };
        events: { seq: number; type: string }[];
      };
      expect(shown.run).toMatchObject({ id: first.id, status: 'succeeded' });
      expect(shown.state).toMatchObject({ status: 'succeeded', output: 'echoed: one', steps: 2 });
      expect(shown.events[0]?.type).toBe('run_started');
      expect(shown.events.at(-1)?.type).toBe('run_finished');
      expect(shown.events.map((event) => event.seq)).toEqual(
        shown.events.map((_, index) => index + 1),
      );

      const human = keel(directory, ['show', first.id]);
      expect(human.stderr).toBe('');
      expect(human.status).toBe(0);
      expect(human.stdout).toMatch(/^journal$/m);
      expect(human.stdout).toMatch(/^\s+1\s+\+0\.000s\s+run_started agent=echoer\b/m);
      expect(human.stdout).toMatch(/^\s+\d+\s+\+\d+\.\d{3}s\s+tool_finished echo\b/m);
      expect(human.stdout).toMatch(
        new RegExp(`^\\s+${shown.events.length}\\s+\\S+\\s+run_finished succeeded:`, 'm'),
      );
    }, 90_000);
  });

  describe('cancel', () => {
    it('cancels a queued run at once', async () => {
      const directory = workspace(CONFIG);
      const [runId = ''] = await submitEchoRuns(storeUrl(directory), ['never run']);

      const document = json(keel(directory, ['cancel', runId, '--json']));

      expect(document).toEqual({ id: runId, status: 'cancelled', cancelRequested: true });
      const store = await openStore(storeUrl(directory));
      try {
        expect((await store.getRun(runId))?.status).toBe('cancelled');
        const events = await store.readEvents(runId);
        expect(events.map((entry) => entry.event.type)).toEqual([
          'run_started',
          'cancel_requested',
          'run_finished',
        ]);
      } finally {
        await store.close();
      }
    });
  });

  describe('worker', () => {
    it('refuses a --wait-for-store that is not a whole number of seconds, with exit code 2', () => {
      const directory = workspace(CONFIG);
      for (const value of ['-1', 'soon', '1.5']) {
        const line = expectFailure(keel(directory, ['worker', '--wait-for-store', value]), 2);
        expect(line).toContain('--wait-for-store');
      }
    });

    it('says it waits for a PostgreSQL server it cannot reach, then gives up with exit 1', () => {
      const directory = workspace(CONFIG);
      const result = keel(directory, ['worker', '--wait-for-store', '1'], {
        KEEL_STORE: 'postgres://postgres@127.0.0.1:1/test',
      });
      const lines = result.stderr.replace(/\n$/, '').split('\n');
      expect(lines).toEqual([
        expect.stringMatching(
          /^store unreachable, waiting up to 1 s for it: .*127\.0\.0\.1:1\/test/,
        ),
        expect.stringMatching(
          /^keel: cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:1\/test/,
        ),
      ]);
      expect(result.status).toBe(1);
    });

    it('fails at once with --wait-for-store 0 when the database does not exist', () => {
      const directory = workspace(CONFIG);
      const line = expectFailure(
        keel(directory, ['worker', '--wait-for-store', '0'], {
          KEEL_STORE: 'postgres://postgres@127.0.0.1:5432/keel_no_such_db',
        }),
        1,
      );
      expect(line).toContain('keel_no_such_db');
    });

    it('executes queued runs and stops cleanly on SIGINT', { timeout: 60_000 }, async () => {
      const directory = workspace(CONFIG);
      const url = `sqlite:${join(directory, 'worker.db')}`;
      const runIds = await submitEchoRuns(url, ['first', 'second', 'third']);

      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker', '--poll', '50'], {
        cwd: directory,
        env: childEnv({ KEEL_STORE: url }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve) => {
          child.once('exit', (code, signal) => {
            resolve({ code, signal });
          });
        },
      );

      const store = await openStore(url);
      let statuses: string[] = [];
      try {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          statuses = await Promise.all(
            runIds.map(async (id) => (await store.getRun(id))?.status ?? 'missing'),
          );
          if (statuses.every((status) => status === 'succeeded') || child.exitCode !== null) break;
          await sleep(100);
        }
      } finally {
        await store.close();
      }
      expect({ statuses, stderr }).toEqual({
        statuses: ['succeeded', 'succeeded', 'succeeded'],
        stderr: '',
      });

      child.kill('SIGINT');
      const exit = await Promise.race([exited, sleep(5_000).then(() => 'still running' as const)]);
      if (exit === 'still running') throw new Error(`the worker ignored SIGINT; stdout: ${stdout}`);
      children.delete(child);

      expect([0, null]).toContain(exit.code);
      expect(stdout).toMatch(/^stopping\b.*$/m);
      for (const id of runIds) expect(stdout).toMatch(new RegExp(`^${id} succeeded\\b`, 'm'));
      expect(stderr).toBe('');
    });
  });
});
