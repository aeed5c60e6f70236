import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { answeringGlibcOnce, type ReportHolder } from './sqlite-driver.js';

/** What the driver goes by: Linux, and `/usr/bin/ldd` naming GLIBC. */
function glibcByLdd(): boolean {
  try {
    return process.platform === 'linux' && readFileSync('/usr/bin/ldd', 'latin1').includes('GLIBC');
  } catch {
    return false;
  }
}

async function load(how: 'driver' | 'plain'): Promise<unknown> {
  const script = fileURLToPath(new URL('./__tests__/sqlite-driver-process.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, how]);
  return JSON.parse(stdout);
}

describe('sqliteDriver', () => {
  it('loads libsql without a diagnostic report where ldd names glibc, and puts the report function back', async () => {
    const [driver, plain] = await Promise.all([load('driver'), load('plain')]);
    const asked = (plain as { reportCalls: number }).reportCalls;
    // Loaded directly, libsql asks for the report where it runs on Linux.
    if (process.platform === 'linux') expect(asked).toBeGreaterThan(0);
    expect(driver).toEqual({
      // Elsewhere libsql asks exactly as it would without Keel.
      reportCalls: glibcByLdd() ? 0 : asked,
      restored: true,
      sameClass: true,
      answer: 42,
    });
    expect(plain).toMatchObject({ restored: true, answer: 42 });
  }, 30_000);

  it('answers only the first question with the stand-in, and restores the report after a failed load', () => {
    const real = { header: { glibcVersionRuntime: '2.36' }, sharedObjects: [] };
    const getReport = (): unknown => real;
    const report: ReportHolder = { getReport };
    const answers = answeringGlibcOnce(report, () => {
      const ask = report.getReport as () => unknown;
      return [ask(), ask()];
    });
    expect(answers).toEqual([{ header: { glibcVersionRuntime: 'from /usr/bin/ldd' } }, real]);
    expect(report.getReport).toBe(getReport);
    expect(() =>
      answeringGlibcOnce(report, () => {
        throw new Error('no native build');
      }),
    ).toThrow('no native build');
    expect(report.getReport).toBe(getReport);
  });

  it('leaves a report it cannot replace alone', () => {
    const getReport = (): unknown => 'real';
    const report = Object.freeze({ getReport }) as ReportHolder;
    expect(answeringGlibcOnce(report, () => (report.getReport as () => unknown)())).toBe('real');
  });
});
