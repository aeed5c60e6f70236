import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type LibsqlDatabase from 'libsql';

/** libsql's `Database` class. */
export type SqliteDatabaseClass = typeof LibsqlDatabase;

let driver: SqliteDatabaseClass | undefined;

/**
 * libsql's `Database` class, loaded on first use. It is required, not imported: importing a
 * CommonJS module from an ES module makes Node scan its source for export names first.
 *
 * On Linux, libsql picks its native build (glibc or musl) by asking `process.report.getReport()`
 * whether the C library is glibc. That call writes a whole diagnostic report, ~4.5 ms of every
 * cold start. When `/usr/bin/ldd` names `GLIBC` (the test libsql's own second check,
 * detect-libc, makes of that file, so both checks agree), that first question is answered with
 * just that while libsql loads. The stand-in answers once: any later call in the same load gets
 * the real report (so a check that falls back to the report caches a real one), and the real
 * function is back as soon as the load ends (it is synchronous; a `require` hook that asks
 * during it would get the stand-in's one answer and libsql the real report). Anywhere else
 * libsql asks as usual. Together ~10 ms less to open the first store (18.5 → 8.4
 * ms here).
 */
export function sqliteDriver(): SqliteDatabaseClass {
  if (driver !== undefined) return driver;
  const require = createRequire(import.meta.url);
  const load = (): SqliteDatabaseClass => require('libsql') as SqliteDatabaseClass;
  const report = process.report as ReportHolder | undefined;
  driver = report && glibcByLdd() ? answeringGlibcOnce(report, load) : load();
  return driver;
}

/** `process.report`, as far as the stand-in needs it. */
export interface ReportHolder {
  getReport?: unknown;
}

/**
 * Runs `load` with `report.getReport` answering its first call with a glibc header only, and
 * every later one with the real report; the real function is back when `load` returns or
 * throws. A report that is not a function, or cannot be replaced, is left alone.
 */
export function answeringGlibcOnce<T>(report: ReportHolder, load: () => T): T {
  const original = report.getReport;
  if (typeof original !== 'function') return load();
  let answered = false;
  const standIn = (...args: unknown[]): unknown => {
    if (answered) return (original as (...a: unknown[]) => unknown).apply(report, args);
    answered = true;
    return { header: { glibcVersionRuntime: 'from /usr/bin/ldd' } };
  };
  try {
    report.getReport = standIn;
  } catch {
    return load();
  }
  try {
    return load();
  } finally {
    report.getReport = original;
  }
}

/** Whether this is Linux and `/usr/bin/ldd` names glibc, as detect-libc reads it. */
function glibcByLdd(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const ldd = readFileSync('/usr/bin/ldd', 'latin1');
    return ldd.includes('GLIBC') && !ldd.includes('musl');
  } catch {
    return false;
  }
}
