import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This package's version, from the nearest `package.json` named `keel` above this module (the
 * same walk from `src/cli/` in the repository and from `dist/src/cli/` in the installed package).
 */
export function keelVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'keel' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No (readable) manifest here: keep walking up.
    }
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}
