import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/** How a ```ts block is treated: compiled (default), also run (`ts run`), or neither (`ts no-compile`). */
export type BlockMode = 'compile' | 'run' | 'no-compile';

/** One ```ts block of a Markdown file. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository. */
  readonly file: string;
  /** 1-based line of the block's first code line. */
  readonly line: number;
  readonly mode: BlockMode;
  readonly code: string;
}

const FENCE = /^```(ts|typescript)\b(.*)$/;

/** Every ```ts block of one Markdown text. */
export function extractBlocks(file: string, text: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index] ?? '');
    if (!open) continue;
    const words = (open[2] ?? '').trim().split(/\s+/).filter(Boolean);
    const mode: BlockMode = words.includes('no-compile')
      ? 'no-compile'
      : words.includes('run')
        ? 'run'
        : 'compile';
    const start = index + 1;
    let end = start;
    while (end < lines.length && !(lines[end] ?? '').startsWith('```')) end++;
    blocks.push({ file, line: start + 1, mode, code: lines.slice(start, end).join('\n') });
    index = end;
  }
  return blocks;
}

/** The Markdown a reader sees: README.md and docs/ (less the generated API and CLI references). */
export function documentationFiles(root: string): string[] {
  const found: string[] = ['README.md'];
  const walk = (directory: string): void => {
    for (const entry of readdirSync(join(root, directory), { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (path !== join('docs', 'api')) walk(path);
      } else if (entry.name.endsWith('.md') && path !== join('docs', 'cli.md')) found.push(path);
    }
  };
  walk('docs');
  return found.sort();
}

/** Every ```ts block of the documentation. */
export function documentationBlocks(root: string): CodeBlock[] {
  return documentationFiles(root).flatMap((file) =>
    extractBlocks(relative(root, join(root, file)), readFileSync(join(root, file), 'utf8')),
  );
}
