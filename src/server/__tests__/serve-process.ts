import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../cli/__tests__/keel-process.js';

/*
 * `keel serve` as a real process (the CLI from source, through tsx), on a free port. Test
 * support only.
 */

export interface ServeProcess {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

export async function startServe(
  storeUrl: string,
  args: readonly string[] = [],
): Promise<ServeProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', KEEL_STORE: storeUrl };
  delete env.KEEL_APPROVER_TOKEN;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', ...args],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /Keel on (http:\/\/[^:\s]+:\d+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => {
      reject(new Error(`keel serve exited: ${output}`));
    });
  });
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
