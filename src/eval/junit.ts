import type { EvalReport } from './eval-report.js';

/**
 * The report as JUnit XML, the format CI systems read: one `<testsuite>` per suite, one
 * `<testcase>` per case, a `<failure>` listing each failed assertion of each attempt.
 *
 * ```ts
 * await writeFile('eval.xml', junitXml(report));
 * ```
 */
export function junitXml(report: EvalReport): string {
  const suites = new Map<string, EvalReport['cases'][number][]>();
  for (const summary of report.cases) {
    suites.set(summary.suite, [...(suites.get(summary.suite) ?? []), summary]);
  }
  const regressed = new Set(
    report.regressions
      .filter((regression) => regression.kind === 'status')
      .map((regression) => regression.case),
  );
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(
    `<testsuites name="keel eval" tests="${report.cases.length}" failures="${report.failed}" errors="0" time="${seconds(report.durationMs)}">`,
  );
  for (const [suite, cases] of suites) {
    const failures = cases.filter((summary) => !summary.passed).length;
    const time = cases.reduce((sum, summary) => sum + summary.latencyMs * summary.k, 0);
    lines.push(
      `  <testsuite name="${attribute(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(time)}">`,
    );
    for (const summary of cases) {
      const open = `    <testcase classname="${attribute(suite)}" name="${attribute(summary.case)}" time="${seconds(summary.latencyMs * summary.k)}"`;
      if (summary.passed) {
        lines.push(`${open}/>`);
        continue;
      }
      const detail = summary.failures
        .map((failure) => `attempt ${failure.attempt}: ${failure.assertion}: ${failure.message}`)
        .join('\n');
      const message = `${summary.failures.length} failed assertion(s) over ${summary.k} attempt(s)${regressed.has(summary.name) ? '; passed in the baseline' : ''}`;
      lines.push(`${open}>`);
      lines.push(
        `      <failure message="${attribute(message)}" type="assertion">${text(detail)}</failure>`,
      );
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

// XML 1.0 allows tab, newline and carriage return among the control characters; no others.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function text(value: string): string {
  return value
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function attribute(value: string): string {
  return text(value).replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
}
