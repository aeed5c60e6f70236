import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The package as a user installs it: `npm pack`, then `npm install ./keel-*.tgz` in an empty
 * project, then every subpath of package.json's `exports` imported by name from there.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'keel-pack-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

describe('the packed package', () => {
  it('installs into a new project, and every subpath it exports resolves there', async () => {
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
  }, 300_000);
});
