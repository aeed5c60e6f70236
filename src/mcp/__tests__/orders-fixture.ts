import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/*
 * The order-desk MCP server of `orders-server.mjs`, as the tests start it: a stdio command line
 * for `stdio:` specs, or a child process serving streamable HTTP. Test support only.
 */

export const ORDERS_SERVER = fileURLToPath(new URL('./orders-server.mjs', import.meta.url));

/** `{ command, args, env }` for a stdio server with these environment settings. */
export function stdioOrders(env: Record<string, string> = {}) {
  return { command: process.execPath, args: [ORDERS_SERVER], env };
}

/** A scratch directory and the calls file the server appends to, with a reader for it. */
export function callsLog(): {
  readonly file: string;
  calls(): { name: string; meta: Record<string, unknown> | undefined }[];
  count(name: string): number;
  cleanup(): void;
} {
  const directory = mkdtempSync(join(tmpdir(), 'keel-mcp-'));
  const file = join(directory, 'calls.jsonl');
  const calls = () =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { name: string; meta: Record<string, unknown> })
      : [];
  return {
    file,
    calls,
    count: (name) => calls().filter((call) => call.name === name).length,
    cleanup: () => {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Start the server on HTTP; resolves with its URL once it listens. */
export async function httpOrders(
  env: Record<string, string> = {},
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [ORDERS_SERVER, '--http'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`the HTTP orders server exited with ${String(code)}`));
    });
    lines.once('line', (line) => {
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => {
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
