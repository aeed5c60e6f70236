#!/usr/bin/env node
// Dependency-direction check for src/ (STYLE.md, "Folders and modules"). Plain Node, no
// dependencies, in the spirit of kysely's scripts/check-esm-imports.cjs.
//
//   node scripts/check-imports.mjs [rootDir]
//
// rootDir defaults to the repository this script lives in; it must contain src/.
//
// Rules, for every src/**/*.ts file that is not a test:
//   (a) a file in src/<part>/ reaches another part only through src/<other>/index.js;
//   (b) it may import only parts in a lower layer (LAYERS below); nothing imports the top
//       layer. Files directly in src/ (src/index.ts, src/testing.ts) and in src/exports/ (the
//       package's subpaths, `keel/guard` and the like) are the package entry points: they may
//       import any part, but still only through its index.js, and no part imports them.
// Type-only imports count: a type dependency is still a dependency.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Layer of each part. A part may import only parts in strictly lower layers. */
const LAYERS = {
  core: 0,
  // The journal contract (events, the fold, the event schema): every other part reads it.
  journal: 1,
  store: 2,
  model: 2,
  observe: 2,
  // Notifiers (webhook, Slack, email) deliver approval requests now and alerts later.
  notify: 2,
  // A tool describes itself to models (ToolSpec), so tools sits just above model.
  tools: 3,
  context: 4,
  decide: 4,
  // The guard reviews a call first; approval follows a confirm (it reads the guard's review).
  // So the guard may not import approval: the checker refuses the reverse of that order.
  guard: 4,
  approval: 5,
  agent: 6,
  // MCP servers' tools as Keel tools: built on tools, the guard's detector, alerts and the store.
  mcp: 6,
  engine: 7,
  eval: 8,
  server: 8,
  // `keel serve` starts the HTTP API and `keel eval` runs suites: the CLI sits just above the
  // server and the evaluation.
  cli: 9,
  testing: 8,
};

/** Parts that no other part imports (only the entry points in src/ and tests may). */
const TOP = new Set(['cli', 'testing']);

/** The folder of the package's subpath entry points (`keel/guard` is src/exports/guard.ts). */
const ENTRY_FOLDER = 'exports';

/** The package's own name: importing it from inside src/ bypasses every rule above. */
const PACKAGE_NAME = 'keel';

const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts'];

const scriptDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(scriptDir, '..'));
const srcDir = path.join(root, 'src');

if (!existsSync(srcDir) || !statSync(srcDir).isDirectory()) {
  console.error(`check-imports: no src/ directory under ${root}`);
  process.exit(2);
}

const files = listSourceFiles(srcDir);
const violations = [];

for (const file of files) {
  const relativeFile = toPosix(path.relative(root, file));
  if (isTestFile(relativeFile)) continue;

  const fromPart = partOf(file); // undefined for the entry points directly in src/
  if (fromPart !== undefined && !(fromPart in LAYERS)) {
    violations.push(
      `${relativeFile}:1 is in unknown part '${fromPart}' — add it to LAYERS in scripts/check-imports.mjs`,
    );
    continue;
  }

  const source = readFileSync(file, 'utf8');
  for (const { specifier, line } of findImports(source)) {
    const where = `${relativeFile}:${line} imports ${specifier}`;

    if (specifier === PACKAGE_NAME || specifier.startsWith(`${PACKAGE_NAME}/`)) {
      violations.push(`${where} — import the part's ../<part>/index.js, not the package itself`);
      continue;
    }
    if (!specifier.startsWith('.')) continue; // node: builtins and dependencies

    const target = path.resolve(path.dirname(file), specifier);
    if (!isInside(srcDir, target)) continue; // package.json and the like

    const toPart = partOf(target);
    if (toPart === fromPart) continue; // siblings inside one part import each other freely

    if (toPart === undefined) {
      // src/index.ts or src/testing.ts from inside a part: a cycle through the entry point.
      violations.push(`${where} — parts may not import the package entry point`);
      continue;
    }

    const isIndex = target === path.join(srcDir, toPart, 'index.js');
    if (!isIndex) violations.push(`${where} — reach past index.ts`);

    if (fromPart === undefined) continue; // entry points may import any part
    if (!(toPart in LAYERS)) {
      violations.push(`${where} — layer violation: '${toPart}' is not a known part`);
    } else if (TOP.has(toPart)) {
      violations.push(
        `${where} — layer violation: ${fromPart} may not import ${toPart} (nothing imports ${toPart})`,
      );
    } else if (LAYERS[toPart] >= LAYERS[fromPart]) {
      violations.push(`${where} — layer violation: ${fromPart} may not import ${toPart}`);
    }
  }
}

if (violations.length > 0) {
  for (const violation of violations) console.error(violation);
  console.error(
    `\n${violations.length} import violation${violations.length === 1 ? '' : 's'} ` +
      `(${files.length} files checked). Parts and layers: scripts/check-imports.mjs`,
  );
  process.exit(1);
}
console.log(`imports ok (${files.length} files)`);

// ---------------------------------------------------------------------------------------

/** Every source file under `dir`, sorted, skipping dot-folders and node_modules. */
function listSourceFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSourceFiles(full));
    else if (entry.isFile() && SOURCE_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      found.push(full);
    }
  }
  return found.sort();
}

function isTestFile(relativeFile) {
  return (
    /\.test(-d)?\.[mc]?tsx?$/.test(relativeFile) || relativeFile.split('/').includes('__tests__')
  );
}

/**
 * The part a path belongs to (its first folder under src/), or undefined for the entry-point
 * files directly in src/ and in src/exports/. A bare folder (`../core`) counts as that part.
 */
function partOf(absolutePath) {
  const segments = toPosix(path.relative(srcDir, absolutePath)).split('/');
  if (segments[0] === ENTRY_FOLDER) return undefined;
  if (segments.length > 1) return segments[0];
  return /\.[cm]?[jt]sx?$/.test(segments[0]) ? undefined : segments[0];
}

function isInside(dir, target) {
  const relative = path.relative(dir, target);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

function toPosix(p) {
  return p.split(path.sep).join('/');
}

/**
 * Module specifiers of static imports, re-exports, side-effect imports and `import('…')`
 * (including `import('…')` types), with 1-based line numbers. Comments, template literals
 * and regular expressions are blanked first so that text inside them is never mistaken for
 * an import.
 */
function findImports(source) {
  const code = blankNonCode(source);
  const patterns = [
    // import x from '…'; import type { X } from '…'; export { x } from '…'; export * from '…'
    /(?<![\w$.])(?:import|export)(?![\w$])[^'";]*?(?<![\w$.])from\s*(['"])([^'"\n]*)\1/g,
    // import '…';
    /(?<![\w$.])import\s*(['"])([^'"\n]*)\1/g,
    // import('…'), await import('…'), type X = import('…').X
    /(?<![\w$.])import\s*\(\s*(['"])([^'"\n]*)\1/g,
  ];
  // Keyed by the specifier's offset, so a string matched by two patterns counts once.
  const found = new Map();
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2];
      const offset = match.index + match[0].lastIndexOf(match[1] + specifier);
      // Report the line of the statement (the `import`/`export` keyword).
      found.set(offset, { specifier, line: lineAt(code, match.index) });
    }
  }
  return [...found.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry);
}

function lineAt(text, offset) {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Returns `source` with comments, template-literal text and regular-expression literals
 * replaced by spaces (newlines kept, so offsets and line numbers are unchanged). Quoted
 * strings are kept: they carry the specifiers.
 */
function blankNonCode(source) {
  const out = source.split('');
  const blank = (from, to) => {
    for (let i = from; i < to; i++) if (out[i] !== '\n' && out[i] !== '\r') out[i] = ' ';
  };
  // Keywords after which a `/` starts a regular expression rather than a division.
  // prettier-ignore
  const regexKeywords = new Set([
    'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw',
    'case', 'do', 'else', 'yield', 'await',
  ]);
  const templateDepth = []; // brace depth at each `${` that is still open
  let braceDepth = 0;
  let lastSignificant = ''; // last non-space character of code
  let lastWord = '';
  let i = 0;
  const n = source.length;

  const skipString = (quote) => {
    let j = i + 1;
    while (j < n && source[j] !== quote && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
    return Math.min(j + 1, n);
  };
  // From just after a backtick or a closing `}` of `${…}`: blank text up to the closing
  // backtick or the next `${`. Returns [end, openedSubstitution].
  const scanTemplate = (start) => {
    let j = start;
    while (j < n) {
      if (source[j] === '\\') j += 2;
      else if (source[j] === '`') return [j + 1, false];
      else if (source[j] === '$' && source[j + 1] === '{') return [j + 2, true];
      else j++;
    }
    return [n, false];
  };

  while (i < n) {
    const ch = source[i];
    const next = source[i + 1];

    if (ch === '/' && next === '/') {
      const end = source.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (ch === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (ch === "'" || ch === '"') {
      i = skipString(ch);
      lastSignificant = ch;
      lastWord = '';
      continue;
    }
    if (ch === '`' || (ch === '}' && templateDepth.at(-1) === braceDepth)) {
      if (ch === '}') templateDepth.pop();
      const [end, opened] = scanTemplate(i + 1);
      blank(i + 1, opened ? end - 2 : end - 1);
      if (opened) templateDepth.push(braceDepth);
      i = end;
      lastSignificant = opened ? '{' : '`';
      lastWord = '';
      continue;
    }
    if (ch === '/') {
      const startsRegex =
        lastSignificant === '' ||
        '(,=:[!&|?{};+-*%<>~^'.includes(lastSignificant) ||
        regexKeywords.has(lastWord);
      if (startsRegex) {
        let j = i + 1;
        let inClass = false;
        while (j < n && source[j] !== '\n') {
          const c = source[j];
          if (c === '/' && !inClass) break;
          if (c === '[') inClass = true;
          else if (c === ']') inClass = false;
          j += c === '\\' ? 2 : 1;
        }
        j++; // closing slash
        while (j < n && /[a-z]/i.test(source[j])) j++; // flags
        blank(i, j);
        i = j;
        lastSignificant = '/';
        lastWord = '';
        continue;
      }
    }
    if (ch === '{') braceDepth++;
    else if (ch === '}') braceDepth--;

    if (/[\w$]/.test(ch)) {
      let j = i;
      while (j < n && /[\w$]/.test(source[j])) j++;
      lastWord = source.slice(i, j);
      lastSignificant = source[j - 1];
      i = j;
      continue;
    }
    if (!/\s/.test(ch)) {
      lastSignificant = ch;
      lastWord = '';
    }
    i++;
  }
  return out.join('');
}
