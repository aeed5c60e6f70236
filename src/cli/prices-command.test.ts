import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const LIBRARY = join(ROOT, 'src/index.js');

const CONFIG = `
import { defineAgent, simulator } from ${JSON.stringify(LIBRARY)};
export const agents = [
  defineAgent({
    name: 'answerer',
    model: simulator({ modelId: 'house-model', script: [{ text: 'ok', usage: { inputTokens: 1000, outputTokens: 100, cacheReadTokens: 400 } }] }),
    instructions: 'Answer.',
  }),
];
`;

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function workspace(): string {
  const directory = realpathSync(mkdtempSync(join(tmpdir(), 'keel-prices-')));
  directories.push(directory);
  symlinkSync(join(ROOT, 'node_modules'), join(directory, 'node_modules'), 'dir');
  writeFileSync(join(directory, 'keel.config.ts'), CONFIG);
  return directory;
}

function keel(cwd: string, args: readonly string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.KEEL_STORE;
  delete env.KEEL_MODEL;
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return result;
}

describe('keel prices recompute', () => {
  it('re-prices stored runs with keel.prices.json and saves the new cost', () => {
    const cwd = workspace();
    const run = keel(cwd, ['run', 'answerer', '--task', 'price me', '--json']);
    expect(run.status).toBe(0);
    const runId = (JSON.parse(run.stdout) as { id: string }).id;
    writeFileSync(
      join(cwd, 'keel.prices.json'),
      JSON.stringify({
        models: [
          { match: 'house-*', inputPerMillion: 10, outputPerMillion: 20, cacheReadPerMillion: 1 },
        ],
      }),
    );
    const result = keel(cwd, ['prices', 'recompute', '--json']);
    expect([result.status, result.stderr]).toEqual([0, '']);
    const document = JSON.parse(result.stdout) as {
      priceFile: string;
      saved: boolean;
      runs: { runId: string; costUsd: number; pricedCalls: number }[];
    };
    // 600*10 + 400*1 + 100*20 = 8400 per million.
    expect({
      priceFile: document.priceFile,
      saved: document.saved,
      runs: document.runs.map((entry) => ({
        runId: entry.runId,
        costUsd: Math.round(entry.costUsd * 1e9) / 1e9,
        pricedCalls: entry.pricedCalls,
      })),
    }).toEqual({
      priceFile: join(cwd, 'keel.prices.json'),
      saved: true,
      runs: [{ runId, costUsd: 0.0084, pricedCalls: 1 }],
    });
  });

  it('exits 2 with one line when the price file is invalid', () => {
    const cwd = workspace();
    writeFileSync(join(cwd, 'bad.json'), JSON.stringify({ models: [{ match: 'x' }] }));
    const result = keel(cwd, ['prices', 'recompute', '--prices', 'bad.json']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^keel: .*"models\.0\.inputPerMillion".*\n$/);
  });
});
