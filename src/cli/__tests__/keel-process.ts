import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, and the CLI entry point run through tsx. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `keel <args>` as a real process against `storeUrl`, with `KEEL_APPROVER_TOKEN` set to
 * `token` (and unset without one, whatever the parent's environment holds). Its stdin is
 * `input`, then end-of-file (at once without it).
 */
export function runKeel(
  storeUrl: string,
  args: readonly string[],
  token?: string,
  input?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', KEEL_STORE: storeUrl };
    delete env.KEEL_APPROVER_TOKEN;
    if (token !== undefined) env.KEEL_APPROVER_TOKEN = token;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}
