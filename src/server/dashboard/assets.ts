import { readFileSync } from 'node:fs';

/** The dashboard's two static files: its stylesheet and its one script. */
export const ASSETS = {
  'dashboard.css': 'text/css; charset=utf-8',
  'live.js': 'text/javascript; charset=utf-8',
} as const;
export type AssetName = keyof typeof ASSETS;

/**
 * Read the assets once, beside this module: `src/server/assets/` from source, the minified
 * copies `npm run build` writes to `dist/src/server/assets/` when installed.
 */
export function loadAssets(): Record<AssetName, string> {
  const read = (name: AssetName): string =>
    readFileSync(new URL(`../assets/${name}`, import.meta.url), 'utf8');
  return { 'dashboard.css': read('dashboard.css'), 'live.js': read('live.js') };
}
