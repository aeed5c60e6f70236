import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'src/**/*.test.ts',
      'bench/**/*.test.ts',
      'examples/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // Browser tests have their own run (`npm run test:browser`, vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, '**/*.browser.test.ts'],
    // Store contract suites run against real SQLite and PostgreSQL; the defaults
    // (5 s per test, 10 s per hook) are too tight for migrations on a cold CI machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Child processes rather than worker threads: native modules (libsql) and
    // process-level behaviour (signals, crash/resume tests) need a real process.
    pool: 'forks',
    // The default reporter for people, then one plain summary line for CI.
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
