import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/* The import checker on small source trees: what it refuses, and what it lets through. */

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../scripts/check-imports.mjs', import.meta.url));
const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Run the checker on a tree of `files` (path → source); its exit code and output. */
async function check(files: Record<string, string>): Promise<{ code: number; output: string }> {
  const root = mkdtempSync(join(tmpdir(), 'keel-imports-'));
  roots.push(root);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  try {
    const { stdout } = await run('node', [script, root]);
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, output: failed.stderr };
  }
}

const PARTS = {
  'src/core/index.ts': 'export const x = 1;\n',
  'src/journal/index.ts': "import { x } from '../core/index.js';\nexport const y = x;\n",
};

describe('check-imports', () => {
  it('lets approval build on the guard, which reviews a call first', async () => {
    const result = await check({
      ...PARTS,
      'src/guard/index.ts': "export { y } from '../journal/index.js';\n",
      'src/approval/index.ts': "export { y } from '../guard/index.js';\n",
    });
    expect(result.code).toBe(0);
  });

  it('refuses the guard importing approval (the reverse of that order)', async () => {
    const result = await check({
      ...PARTS,
      'src/guard/index.ts': "export { y } from '../approval/index.js';\n",
      'src/approval/index.ts': 'export const y = 1;\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('layer violation: guard may not import approval');
  });

  it('refuses the journal importing anything above core', async () => {
    const result = await check({
      ...PARTS,
      'src/journal/index.ts': "export { z } from '../store/index.js';\n",
      'src/store/index.ts': 'export const z = 1;\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('layer violation: journal may not import store');
  });

  it('lets a subpath entry point import any part, and refuses a part importing it', async () => {
    expect(
      (
        await check({
          ...PARTS,
          'src/exports/journal.ts': "export { y } from '../journal/index.js';\n",
        })
      ).code,
    ).toBe(0);
    const refused = await check({
      ...PARTS,
      'src/exports/journal.ts': "export { y } from '../journal/index.js';\n",
      'src/store/index.ts': "export { y } from '../exports/journal.js';\n",
    });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('parts may not import the package entry point');
  });
});
