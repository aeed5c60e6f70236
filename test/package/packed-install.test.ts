import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The package as a user installs it: `npm pack`, then `npm install ./keel-*.tgz` in an empty
 * project, then every subpath of package.json's `exports` imported by name from there, then the
 * newcomer's path: `npx keel init` and `npx keel run` on the scaffold's TypeScript config, with
 * nothing else installed. One test: packing and installing is the slow part.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'keel-pack-'));
// The project's node_modules is thousands of files: removing them takes a while on a busy machine.
afterAll(() => rm(work, { recursive: true, force: true }), 120_000);

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

describe('the packed package', () => {
  it('installs into a new project, every subpath resolves there, and keel init then keel run work', async () => {
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', work], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const tarball = packed.stdout.trim().split('\n').at(-1) ?? '';
    expect(tarball).toMatch(/^keel-.*\.tgz$/);
    const project = join(work, 'project');
    await run('mkdir', ['-p', project]);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    );
    await run(
      'npm',
      ['install', join(work, tarball), '--no-audit', '--no-fund', '--prefer-offline'],
      { cwd: project, maxBuffer: 64 * 1024 * 1024 },
    );
    const subpaths = Object.keys(manifest.exports)
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
    const script = `
      const found = {};
      for (const specifier of ${JSON.stringify(subpaths)}) {
        found[specifier] = Object.keys(await import(specifier)).length;
      }
      console.log(JSON.stringify(found));
    `;
    const imported = await run('node', ['--input-type=module', '-e', script], { cwd: project });
    const counts = JSON.parse(imported.stdout) as Record<string, number>;
    expect(Object.keys(counts).sort()).toEqual([...subpaths].sort());
    for (const [specifier, count] of Object.entries(counts))
      expect({ specifier, exportsSomething: count > 0 }).toEqual({
        specifier,
        exportsSomething: true,
      });

    // The provider SDKs Keel bundled: a JSON reply, a streamed one and a typed 429 through each
    // adapter, against the fake servers, with no `openai` package installed beside Keel.
    const adapters = `
      import { ModelCallError, anthropicMessages, openaiChat } from '${manifest.name}';
      import { startFakeAnthropicServer, startFakeOpenAIServer } from '${manifest.name}/testing';
      const request = {
        system: 'You are terse.',
        messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi', provenance: { trust: 'trusted', source: 'task' } }] }],
        tools: [],
      };
      const openai = await startFakeOpenAIServer({
        respond: ({ callIndex }) => (callIndex === 2 ? { fault: 'rate_limited', retryAfterSeconds: 1 } : { content: 'hello' }),
      });
      const anthropic = await startFakeAnthropicServer({
        respond: ({ callIndex }) => (callIndex === 2 ? { fault: 'rate_limited', retryAfterSeconds: 1 } : { text: 'hello' }),
      });
      const models = {
        openai: openaiChat({ model: 'gpt-test', baseURL: openai.url, apiKey: 'k' }),
        anthropic: anthropicMessages({ model: 'claude-test', baseURL: anthropic.url, apiKey: 'k' }),
      };
      const text = (response) => response.content.filter((part) => part.type === 'text').map((part) => part.text).join('');
      const found = {};
      for (const [name, model] of Object.entries(models)) {
        const json = text(await model.doGenerate(request, {}));
        let streamed = '';
        await model.doGenerate(request, { onTextDelta: (delta) => { streamed += delta; } });
        const failure = await model.doGenerate(request, {}).then(
          () => 'none',
          (error) => (ModelCallError.isInstance(error) ? error.type : String(error)),
        );
        found[name] = { json, streamed, failure };
      }
      await openai.close();
      await anthropic.close();
      console.log(JSON.stringify(found));
    `;
    const called = await run('node', ['--input-type=module', '-e', adapters], { cwd: project });
    const reply = { json: 'hello', streamed: 'hello', failure: 'rate_limited' };
    expect(JSON.parse(called.stdout)).toEqual({ openai: reply, anthropic: reply });
    expect(readdirSync(join(project, 'node_modules'))).not.toContain('openai');
    expect(
      readFileSync(
        join(project, 'node_modules', manifest.name, 'dist/src/THIRD-PARTY-LICENSES.md'),
        'utf8',
      ),
    ).toContain('## openai ');

    // An invalid definition left uncaught: Node prints the line that threw above the error,
    // which must be a line of code, not a whole minified chunk.
    const uncaught = await run(
      'node',
      [
        '--input-type=module',
        '-e',
        `import { defineAgent } from '${manifest.name}'; defineAgent({ name: 'Bad Name' });`,
      ],
      { cwd: project },
    ).then(
      () => ({ stderr: '' }),
      (error: unknown) => error as { stderr: string },
    );
    expect(uncaught.stderr).toContain('defineAgent("Bad Name"): "name" must be lowercase');
    const longest = Math.max(...uncaught.stderr.split('\n').map((line) => line.length));
    expect(longest).toBeLessThan(300);

    // The newcomer's path, through the installed bin; no store or model from this machine.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.KEEL_STORE;
    delete env.KEEL_MODEL;
    const npx = (args: string[]) =>
      run('npx', ['--no-install', 'keel', ...args], { cwd: project, env });
    const init = await npx(['init']);
    expect(init.stdout).toContain('wrote keel.config.ts');
    const answered = await npx([
      'run',
      'assistant',
      '--task',
      'Where is my order A-1001?',
      '--json',
    ]);
    const result = JSON.parse(answered.stdout) as { status: string; output: string };
    expect({ status: result.status, output: result.output }).toEqual({
      status: 'succeeded',
      output: 'Order A-1001 is shipped; expected Thursday.',
    });
    // The demo from the installed package: its worker process is a script beside it.
    const demo = await npx(['demo']);
    expect(demo.stdout).toContain('All 5 scenarios behaved as expected.');

    // The dashboard's stylesheet and script, from where the built server finds them.
    const bin = join(project, 'node_modules', manifest.name, 'bin', 'keel.js');
    const served = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
      cwd: project,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let text = '';
        served.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          const found = /Keel on (http:\/\/[^:]+:\d+)/.exec(text);
          if (found?.[1]) resolve(found[1]);
        });
        served.once('exit', (code) => {
          reject(new Error(`keel serve exited (${String(code)}): ${text}`));
        });
      });
      const assets = await Promise.all(
        ['dashboard.css', 'live.js'].map(async (name) => {
          const response = await fetch(`${base}/assets/${name}`);
          return { name, status: response.status, bytes: (await response.text()).length > 0 };
        }),
      );
      expect(assets).toEqual([
        { name: 'dashboard.css', status: 200, bytes: true },
        { name: 'live.js', status: 200, bytes: true },
      ]);
    } finally {
      served.kill();
    }
    expect(readdirSync(join(project, 'node_modules'))).not.toContain('typescript');
  }, 300_000);
});
