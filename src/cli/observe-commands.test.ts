import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../testing/index.js';

/*
 * `keel trace`, `costs`, `alerts`, `replay` and `fork` as a real process started from source,
 * over a run made by `keel run` in the same workspace, with OTLP export configured by the
 * standard environment variables.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const LIBRARY = join(ROOT, 'src/index.js');

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
];
`;

interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let directory: string;
let receiver: OtlpReceiver;

beforeAll(async () => {
  directory = realpathSync(mkdtempSync(join(tmpdir(), 'keel-cli-observe-')));
  symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'), 'dir');
  writeFileSync(join(directory, 'keel.config.ts'), CONFIG);
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver.close();
  await rm(directory, { recursive: true, force: true });
});

/** Asynchronous, so the OTLP receiver in this process can answer the child. */
function keel(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const inherited = Object.entries(process.env).filter(
    ([name]) =>
      !name.startsWith('OTEL_') && !['KEEL_STORE', 'KEEL_MODEL', 'FORCE_COLOR'].includes(name),
  );
  const childEnv: NodeJS.ProcessEnv = { ...Object.fromEntries(inherited), NO_COLOR: '1', ...env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: directory,
      env: childEnv,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      resolve({ status, stdout, stderr });
    });
  });
}

/** Exit 0, nothing on stderr, one JSON document of the shape the caller names. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the document's shape
function json<T>(result: CliResult): T {
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const parsed: T = JSON.parse(result.stdout) as T;
  return parsed;
}

function expectUsageError(result: CliResult): void {
  expect(result.status).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^keel: \S/)]);
}

interface SpanJson {
  name: string;
  attributes: Record<string, unknown>;
  children: SpanJson[];
}

describe('keel observability commands', () => {
  let runId: string;
  let usage: { inputTokens: number; outputTokens: number; costUsd: number };

  beforeAll(async () => {
    const run = json<{ id: string; usage: typeof usage }>(
      await keel(['run', 'echoer', '--task', 'hello', '--json'], {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: 'cli-test',
      }),
    );
    runId = run.id;
    usage = run.usage;
  }, 60_000);

  it('exports the run over OTLP when the OTel variables name an endpoint', () => {
    const names = receiver.spans.map((span) => span.name).sort();
    expect(names).toEqual([
      'chat simulator',
      'chat simulator',
      'execute_tool echo',
      'invoke_agent echoer',
    ]);
    expect(receiver.spans[0]?.resource['service.name']).toBe('cli-test');
  });

  it('prints the trace as nested spans with tokens and cost', async () => {
    const trace = json<{ runId: string; spans: SpanJson[] }>(
      await keel(['trace', runId, '--json']),
    );
    expect(trace.runId).toBe(runId);
    const [root] = trace.spans;
    expect(root?.name).toBe('invoke_agent echoer');
    expect(root?.children.map((span) => span.name)).toEqual([
      'chat simulator',
      'execute_tool echo',
      'chat simulator',
    ]);
    expect(root?.attributes['gen_ai.usage.input_tokens']).toBe(usage.inputTokens);
    expect(root?.attributes['keel.cost.usd']).toBe(usage.costUsd);

    const text = await keel(['trace', runId]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('execute_tool echo');
    expect(text.stdout).toMatch(/invoke_agent echoer .*\d+ in \/ \d+ out tok/);
  });

  it('totals cost per agent, model, day and tool', async () => {
    const costs = json<{
      total: { costUsd: number; inputTokens: number };
      byAgent: { key: string; runs: number }[];
      byTool: { key: string; calls: number; errors: number }[];
    }>(await keel(['costs', '--since', '1d', '--json']));
    expect(costs.total.inputTokens).toBe(usage.inputTokens);
    expect(costs.total.costUsd).toBeCloseTo(usage.costUsd, 12);
    expect(costs.byAgent).toEqual([expect.objectContaining({ key: 'echoer', runs: 1 })]);
    expect(costs.byTool).toEqual([
      { key: 'echo', calls: 1, errors: 0, totalLatencyMs: expect.any(Number) },
    ]);
    expectUsageError(await keel(['costs', '--since', 'last week']));
  });

  it('replays the run identically, and forks it from a step', async () => {
    const replay = json<{ identical: boolean; divergence: unknown }>(
      await keel(['replay', runId, '--json']),
    );
    expect(replay).toMatchObject({ identical: true, divergence: null });

    const fork = json<{ status: string; steps: number; forkOf: unknown }>(
      await keel(['fork', runId, '--from-step', '1', '--json']),
    );
    expect(fork).toMatchObject({ status: 'succeeded', steps: 2, forkOf: { runId, step: 1 } });
    expectUsageError(await keel(['fork', runId, '--from-step', '9']));
    expectUsageError(await keel(['replay', 'run_missing']));
  }, 90_000);

  it('lists alerts, none for a well-behaved run', async () => {
    expect(json<{ alerts: unknown[] }>(await keel(['alerts', '--json']))).toEqual({ alerts: [] });
    expectUsageError(await keel(['trace', 'run_missing']));
  });
});
