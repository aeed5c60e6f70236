import { existsSync, readFileSync } from 'node:fs';

/** The dashboard's two static files: its stylesheet and its one script. */
export const ASSETS = {
  'dashboard.css': 'text/css; charset=utf-8',
  'live.js': 'text/javascript; charset=utf-8',
} as const;
export type AssetName = keyof typeof ASSETS;

/**
 * Where the assets are: `src/server/assets/` beside this module's folder from source, the
 * minified copies `npm run build` writes to `dist/src/server/assets/` when installed. Built,
 * this module lives in a bundle chunk (`dist/src/chunks/`), whose sibling folder is `server/`.
 */
const ASSET_DIRECTORIES = ['../assets/', '../server/assets/'] as const;

/** Read the assets once, from the first place that has them. */
export function loadAssets(): Record<AssetName, string> {
  const directory =
    ASSET_DIRECTORIES.map((path) => new URL(path, import.meta.url)).find((url) =>
      existsSync(new URL('dashboard.css', url)),
    ) ?? new URL(ASSET_DIRECTORIES[0], import.meta.url);
  const read = (name: AssetName): string => readFileSync(new URL(name, directory), 'utf8');
  return { 'dashboard.css': read('dashboard.css'), 'live.js': read('live.js') };
}
