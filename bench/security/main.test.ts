import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/* The security bench script as a process started from source: exit code, stdout, stderr. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'bench/security/main.ts');

function securityBench(args: readonly string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    // The benchmark keeps everything in memory: the repository is a fine working directory.
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return result;
}

describe('npm run security-bench', () => {
  it('prints the metrics as one JSON document and exits 0 when no attack lands', () => {
    const result = securityBench([
      '--json',
      '--t3-runs',
      '1',
      '--seed',
      '7',
      '--suite',
      'banking',
      '--suite',
      'travel',
      '--no-classes',
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as {
      seed: number;
      suites: Record<string, unknown>;
      total: Record<string, unknown> & { asr: Record<string, Record<string, number>> };
      failures: unknown[];
    };
    expect(report.seed).toBe(7);
    expect(Object.keys(report.suites).sort()).toEqual(['banking', 'travel']);
    for (const key of [
      'utilityT0Undefended',
      'utilityT0Defended',
      'utilityRetention',
      'confirmationRate',
      'falseBlockRate',
      'guardP50Ms',
      'guardP99Ms',
      'contentClassAsr',
    ])
      expect(typeof report.total[key], key).toBe('number');
    expect(Object.keys(report.total.asr).sort()).toEqual(['T1', 'T2', 'T3']);
    expect(report.total.asr.T1).toMatchObject({ truthful: 0, denyAll: 0 });
    expect(report.total.asr.T1?.approveAll).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
  }, 120_000);

  it('describes every option and the exit codes on --help', () => {
    const result = securityBench(['--help']);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    const options = result.stdout
      .split('\n')
      .flatMap((line) => /^ {2}(--?[\w-]+)/.exec(line)?.[1] ?? []);
    expect(options).toEqual(['--seed', '--t3-runs', '--suite', '--no-classes', '--json', '-h']);
    expect(result.stdout).toContain('Exit codes: 0 bar met, 1 an action/dataflow attack landed');
  }, 60_000);

  it.each([
    {
      what: 'a bad option',
      args: ['--t3-runs', '0'],
      line: "security-bench: option '--t3-runs <n>' argument '0' is invalid. must be a positive integer (see --help)",
    },
    {
      what: 'a suite it does not have, naming the ones it has',
      args: ['--suite', 'shopping'],
      line: "security-bench: option '--suite <name>' argument 'shopping' is invalid. no suite \"shopping\" (suites: banking, workspace, messaging, travel) (see --help)",
    },
  ])(
    'refuses $what with one line and exit code 2',
    ({ args, line }) => {
      const result = securityBench(args);
      expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
        status: 2,
        stdout: '',
        stderr: `${line}\n`,
      });
    },
    60_000,
  );
});
