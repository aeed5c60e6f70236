import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { runKeel } from './__tests__/keel-process.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-eval-'));
const storeUrl = `sqlite:${join(directory, 'keel.db')}`;
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const SUITE = 'examples/support-desk/evals/support-desk.eval.ts';
const BROKEN = 'examples/support-desk/evals/broken-agents.ts';

interface JsonReport {
  suite: string;
  cases: { name: string; passed: boolean }[];
  passed: number;
  failed: number;
  regressions: { case: string; kind: string }[];
  passAt1: number;
  passHatK: number;
  k: number;
  costUsd: number;
  durationMs: number;
}

/** JUnit XML as CI systems read it: the common schema's elements and required attributes. */
function checkJunit(xml: string): { tests: number; failures: string[] } {
  // Well-formedness first. The validator's successor package is not published where this
  // project installs from; the bundled one still checks the same grammar.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  expect(XMLValidator.validate(xml)).toBe(true);
  const parsed = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    isArray: (name) => ['testsuite', 'testcase', 'failure'].includes(name),
  }).parse(xml) as {
    testsuites: {
      tests: string;
      failures: string;
      testsuite: {
        name: string;
        tests: string;
        failures: string;
        errors: string;
        time: string;
        testcase: {
          name: string;
          classname: string;
          time: string;
          failure?: { message: string }[];
        }[];
      }[];
    };
  };
  const failures: string[] = [];
  let tests = 0;
  for (const suite of parsed.testsuites.testsuite) {
    expect(suite.name).not.toBe('');
    expect(Number(suite.tests)).toBe(suite.testcase.length);
    expect(Number.isFinite(Number(suite.time))).toBe(true);
    const failed = suite.testcase.filter((testcase) => testcase.failure);
    expect(Number(suite.failures)).toBe(failed.length);
    for (const testcase of suite.testcase) {
      expect(testcase.classname).toBe(suite.name);
      expect(Number.isFinite(Number(testcase.time))).toBe(true);
      for (const failure of testcase.failure ?? []) expect(failure.message).not.toBe('');
    }
    tests += suite.testcase.length;
    failures.push(...failed.map((testcase) => testcase.name));
  }
  expect(Number(parsed.testsuites.tests)).toBe(tests);
  return { tests, failures };
}

describe('keel eval', () => {
  let firstId = '';

  it('passes the demo suite, reports pass^k as JSON and writes JUnit XML', async () => {
    const junit = join(directory, 'eval.xml');
    const result = await runKeel(storeUrl, ['eval', SUITE, '--json', '--junit', junit]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(Object.keys(report)).toEqual([
      'suite',
      'cases',
      'passed',
      'failed',
      'regressions',
      'passAt1',
      'passHatK',
      'k',
      'costUsd',
      'durationMs',
    ]);
    expect(report).toMatchObject({
      suite: 'support-desk',
      failed: 0,
      passHatK: 1,
      passAt1: 1,
      k: 2,
    });
    expect(report.cases.length).toBeGreaterThanOrEqual(20);
    expect(report.passed).toBe(report.cases.length);
    expect(checkJunit(readFileSync(junit, 'utf8'))).toEqual({
      tests: report.cases.length,
      failures: [],
    });

    const list = await runKeel(storeUrl, ['eval', 'list', '--json']);
    const [stored] = (JSON.parse(list.stdout) as { evalRuns: { id: string; passed: number }[] })
      .evalRuns;
    expect(stored?.passed).toBe(report.passed);
    firstId = stored?.id ?? '';
  });

  it('fails a broken build by case name, exits 1, and shows the regressions against the baseline', async () => {
    const junit = join(directory, 'broken.xml');
    const result = await runKeel(storeUrl, [
      '--agents',
      BROKEN,
      'eval',
      SUITE,
      '--repeat',
      '1',
      '--baseline',
      firstId,
      '--junit',
      junit,
    ]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^22 passed, 4 failed$/);
    expect(result.stdout).toContain('✗ support-desk › refund confirmation has a reference');
    expect(result.stdout).toContain('regressions against');
    expect(result.stdout).toContain(
      'support-desk › declined payment is explained with the issuer code: passed, now fails',
    );
    expect(checkJunit(readFileSync(junit, 'utf8')).failures).toEqual([
      'refund confirmation has a reference',
      'refund confirmation is emailed to the customer',
      'refund over the limit waits for finance and goes through when approved',
      'declined payment is explained with the issuer code',
    ]);
  });

  it('re-scores a stored evaluation without running anything', async () => {
    const result = await runKeel(storeUrl, ['eval', 'rescore', firstId, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ failed: 0, regressions: [] });
  });

  it('records a stored run as a golden case that replays with nothing executed', async () => {
    const run = await runKeel(storeUrl, [
      'run',
      'payments',
      '--task',
      'Why was payment PAY-2001 declined?',
      '--json',
    ]);
    const { id } = JSON.parse(run.stdout) as { id: string };
    const suite = join(directory, 'golden.eval.json');
    const recorded = await runKeel(storeUrl, ['eval', 'record', id, '--suite', suite]);
    expect(recorded.code).toBe(0);
    expect(recorded.stdout).toMatch(/^added "golden: Why was payment PAY-2001 declined\?" in /);
    const replay = await runKeel(storeUrl, ['eval', suite, '--json']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({
      passed: 1,
      failed: 0,
      cases: [{ name: 'golden › golden: Why was payment PAY-2001 declined?', suppressedCalls: 0 }],
    });
  });

  it('exits 2 with one line for bad input', async () => {
    for (const args of [
      ['eval', 'missing.eval.ts'],
      ['eval', SUITE, '--repeat', '0'],
      ['eval', SUITE, '--baseline', 'nonsense'],
      ['eval', 'rescore', 'ev_0000'],
    ]) {
      const result = await runKeel(storeUrl, args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^keel: /);
    }
  });
});
