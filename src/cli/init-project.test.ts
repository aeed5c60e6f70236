import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCAFFOLD, initProject } from './init-project.js';

const directories: string[] = [];
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function emptyFolder(): string {
  const directory = mkdtempSync(join(tmpdir(), 'keel-init-'));
  directories.push(directory);
  return directory;
}

describe('keel init', () => {
  it('writes a config, an agent, a tool, an eval case and a .gitignore for .keel/', () => {
    const folder = emptyFolder();
    const result = initProject(folder);
    expect(result).toEqual({
      written: [
        'keel.config.ts',
        'agents/assistant.ts',
        'tools/lookup-order.ts',
        'evals/assistant.json',
      ],
      gitignore: 'written',
    });
    for (const file of SCAFFOLD)
      expect(readFileSync(join(folder, file.path), 'utf8')).toBe(file.text);
    expect(readFileSync(join(folder, '.gitignore'), 'utf8').split('\n')).toContain('.keel/');
    const evalCase = JSON.parse(readFileSync(join(folder, 'evals/assistant.json'), 'utf8')) as {
      agent: string;
      cases: unknown[];
    };
    expect(evalCase.agent).toBe('assistant');
    expect(evalCase.cases).toHaveLength(1);
  });

  it('refuses to overwrite any file, naming it, and writes nothing', () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, 'keel.config.ts'), '// mine\n');
    expect(() => initProject(folder)).toThrow(
      expect.objectContaining({
        code: 'invalid_input',
        message: 'init would overwrite keel.config.ts; nothing was written',
      }) as Error,
    );
    expect(readFileSync(join(folder, 'keel.config.ts'), 'utf8')).toBe('// mine\n');
    expect(existsSync(join(folder, 'agents'))).toBe(false);
    expect(existsSync(join(folder, '.gitignore'))).toBe(false);
  });

  it('adds .keel/ to an existing .gitignore once, keeping what is there', () => {
    const folder = emptyFolder();
    writeFileSync(join(folder, '.gitignore'), 'dist');
    expect(initProject(folder).gitignore).toBe('appended');
    expect(readFileSync(join(folder, '.gitignore'), 'utf8')).toBe('dist\n.keel/\n');

    const again = emptyFolder();
    writeFileSync(join(again, '.gitignore'), '.keel/\n');
    expect(initProject(again).gitignore).toBe('unchanged');
    expect(readFileSync(join(again, '.gitignore'), 'utf8')).toBe('.keel/\n');
  });
});
