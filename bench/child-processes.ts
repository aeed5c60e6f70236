import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Children still running, so the bench can end them on any exit path. */
const running = new Set<ChildProcess>();

/** Ends every child this bench started and is still running. Safe to call more than once. */
export function stopAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  running.clear();
}

/** Path of a compiled sibling script in dist/bench. */
export function benchScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

export interface FakeServerProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the fake OpenAI server in its own process and waits for its URL. */
export async function spawnFakeServer({
  latencyMs,
  toolCallsPerRun,
}: {
  latencyMs: number;
  toolCallsPerRun: number;
}): Promise<FakeServerProcess> {
  const child = spawn(
    process.execPath,
    [benchScript('fake-server-process.js'), String(latencyMs), String(toolCallsPerRun)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline === -1) return;
      child.stdout?.off('data', onData);
      resolve(text.slice(0, newline).trim());
    };
    child.stdout?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`fake server exited early (code ${String(code)})`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      running.delete(child);
    },
  };
}

export interface NodeRun {
  readonly stdout: string;
  /** From just before spawn() to the child's exit, in ms. */
  readonly wallMs: number;
  readonly exitCode: number | null;
}

/** Runs `node [nodeArgs] [args]` to completion, collecting stdout (stderr passes through). */
export async function runNode(
  nodeArgs: readonly string[],
  args: readonly string[] = [],
): Promise<NodeRun> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  const chunks: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve();
    });
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const wallMs = performance.now() - startedAt;
  running.delete(child);
  // 'exit' can come before the last stdout chunk; 'close' comes after it.
  await closed;
  return { stdout: Buffer.concat(chunks).toString('utf8'), wallMs, exitCode };
}

/** Runs a bench script that prints one JSON document, and parses it. */
export async function runNodeJson<T>(
  nodeArgs: readonly string[],
  args: readonly string[],
): Promise<T & { wallMs: number }> {
  const run = await runNode(nodeArgs, args);
  if (run.exitCode !== 0) {
    throw new Error(`${nodeArgs.join(' ')} exited with code ${String(run.exitCode)}`);
  }
  return { ...(JSON.parse(run.stdout) as T), wallMs: run.wallMs };
}
