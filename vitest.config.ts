import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Tests that start real processes (the CLI through tsx, crashing workers, a packed install, the
 * security bench): minutes on a busy 2-core machine. `npm test` leaves them out to stay fast;
 * `npm run test:slow` runs exactly these, and CI runs both.
 */
export const SLOW_TESTS = [
  'src/cli/approval-cli.test.ts',
  'src/cli/audit-command.test.ts',
  'src/cli/cli.test.ts',
  'src/cli/eval-cli.test.ts',
  'src/cli/mcp-cli.test.ts',
  'src/cli/observe-commands.test.ts',
  'src/cli/prices-command.test.ts',
  'src/cli/review-cli.test.ts',
  'src/cli/shadow-cli.test.ts',
  'src/cli/terminal-output.test.ts',
  'test/crash/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/tools/**/*.test.ts',
  'test/node-test/**/*.test.ts',
  'bench/security/main.test.ts',
  'bench/security/attack-classes.test.ts',
  'bench/security/security-bench.test.ts',
];

const slow = process.env.KEEL_TEST_SET === 'slow';

export default defineConfig({
  test: {
    include: slow
      ? SLOW_TESTS
      : ['src/**/*.test.ts', 'bench/**/*.test.ts', 'examples/**/*.test.ts', 'test/**/*.test.ts'],
    // Browser tests have their own run (`npm run test:browser`, vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, '**/*.browser.test.ts', ...(slow ? [] : SLOW_TESTS)],
    // Store contract suites run against real SQLite and PostgreSQL; the defaults
    // (5 s per test, 10 s per hook) are too tight for migrations on a cold CI machine. A process
    // test starts several `keel` processes, each seconds long on a busy machine.
    testTimeout: slow ? 240_000 : 30_000,
    hookTimeout: 30_000,
    // Child processes rather than worker threads: native modules (libsql) and
    // process-level behaviour (signals, crash/resume tests) need a real process.
    pool: 'forks',
    // Formatted output is compared as text: no colours, also under CI (which picocolors colours).
    env: { NO_COLOR: '1' },
    // The default reporter for people, then one plain summary line for CI.
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
