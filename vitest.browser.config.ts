import { defineConfig } from 'vitest/config';

/**
 * `npm run test:browser`: the dashboard in Debian's Chromium (playwright-core), on the demo's
 * data and on hostile payloads, SQLite and PostgreSQL. Separate from `npm test`: it needs
 * `/usr/bin/chromium` (`.ci/run` installs it).
 */
export default defineConfig({
  test: {
    include: ['src/**/*.browser.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // One file at a time: each drives a browser and servers on a 2-core machine.
    fileParallelism: false,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
