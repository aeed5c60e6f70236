import { pc, print, writeErr, writeOut } from './terminal.js';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { KeelError } from '../core/index.js';
import {
  evalReport,
  junitXml,
  rescoreEvaluation,
  runSuite,
  storeEvaluation,
  storedBaseline,
  type CaseSummary,
  type EvalReport,
  type SuiteResult,
} from '../eval/index.js';
import { resolveRunModel } from '../agent/index.js';
import { EXIT, usageError } from './exit-codes.js';
import { loadAgents } from './load-agents.js';
import { loadSuites } from './load-suites.js';
import { openStoreFromOptions, type CliGlobals } from './open-runtime.js';
import { checkWritable, writeOutputFile } from './output-file.js';

/** What `keel eval` was asked. */
export interface EvalCommandOptions {
  readonly globals: CliGlobals;
  readonly paths: readonly string[];
  readonly json: boolean;
  readonly junit?: string | undefined;
  readonly baseline?: string | undefined;
  readonly repeat?: number | undefined;
  readonly model?: string | undefined;
}

/** `keel eval`: run suites, store the evaluation, compare with a baseline; the exit code. */
export async function runEvalCommand(options: EvalCommandOptions): Promise<number> {
  if (options.junit !== undefined) checkWritable(options.junit, '--junit');
  const paths = options.paths.length > 0 ? options.paths : defaultSuitePaths();
  const suites = await loadSuites(paths);
  const { agents } = await loadAgents(options.globals.agents);
  const store = await openStoreFromOptions(options.globals);
  try {
    const baseline =
      options.baseline === undefined ? undefined : await readBaseline(options.baseline, store);
    const progress = progressLine(!options.json);
    const total = suites.reduce(
      (sum, { suite }) => sum + suite.cases.length * (options.repeat ?? suite.repeat),
      0,
    );
    let done = 0;
    const results: SuiteResult[] = [];
    for (const { name, suite } of suites) {
      results.push(
        await runSuite(suite, {
          name,
          agents,
          repeat: options.repeat,
          model: options.model,
          resolveModel: resolveRunModel,
          onProgress: () => {
            done += 1;
            progress.update(done, total);
          },
        }),
      );
    }
    progress.clear();
    const report = evalReport(results, { baseline });
    const id = await storeEvaluation(store, {
      report,
      results,
      sources: suites.map((loaded) => loaded.path),
    });
    finish(report, { ...options, id, baselineName: options.baseline });
    return report.failed > 0 || report.regressions.length > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    await store.close();
  }
}

/** `keel eval rescore`: judge a stored evaluation's journals with the suites' current assertions. */
export async function runRescoreCommand(options: {
  readonly globals: CliGlobals;
  readonly evalRunId: string;
  readonly paths: readonly string[];
  readonly json: boolean;
  readonly junit?: string | undefined;
}): Promise<number> {
  if (options.junit !== undefined) checkWritable(options.junit, '--junit');
  const store = await openStoreFromOptions(options.globals);
  try {
    const stored = await store.evals.get(options.evalRunId);
    if (!stored) {
      throw new KeelError(
        'not_found',
        `no stored eval run ${options.evalRunId} in ${store.location}`,
      );
    }
    const suites = await loadSuites(options.paths.length > 0 ? options.paths : stored.sources);
    const { results, sources } = await rescoreEvaluation(store, options.evalRunId, suites);
    const report = evalReport(results, { baseline: (stored.report as EvalReport).cases });
    const id = await storeEvaluation(store, { report, results, sources, rescoreOf: stored.id });
    finish(report, { ...options, id, baselineName: `${stored.id} (as scored then)` });
    return report.failed > 0 || report.regressions.length > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    await store.close();
  }
}

/** `keel eval list`: stored evaluations, newest first. */
export async function runEvalList(options: {
  readonly globals: CliGlobals;
  readonly json: boolean;
  readonly limit: number;
}): Promise<void> {
  const store = await openStoreFromOptions(options.globals);
  try {
    const runs = (await store.evals.list({ limit: options.limit })).map(
      ({ report: _report, ...run }) => run,
    );
    if (options.json) {
      writeOut(`${JSON.stringify({ evalRuns: runs }, null, 2)}\n`);
      return;
    }
    if (runs.length === 0) print(`no stored eval runs in ${store.location}`);
    for (const run of runs) {
      print(
        `${run.id}  ${new Date(run.createdAt).toISOString()}  ${run.passed} passed, ${run.failed} failed  pass^${run.k} ${run.passHatK}  ${run.suite}${run.rescoreOf ? `  (re-score of ${run.rescoreOf})` : ''}`,
      );
    }
  } finally {
    await store.close();
  }
}

function defaultSuitePaths(): string[] {
  if (existsSync(resolve('evals'))) return ['evals'];
  throw usageError('name a suite file or directory (or keep suites in ./evals)');
}

async function readBaseline(
  value: string,
  store: Awaited<ReturnType<typeof openStoreFromOptions>>,
): Promise<readonly CaseSummary[]> {
  const path = resolve(value);
  if (!existsSync(path)) {
    if (!/^ev_[0-9a-f]+$/.test(value)) {
      throw usageError(`--baseline: ${value} is neither a file nor a stored eval run id (ev_…)`);
    }
    return storedBaseline(store, value);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw usageError(`--baseline: ${value} is not JSON (give a file written by keel eval --json)`);
  }
  const cases = (parsed as { cases?: unknown } | null)?.cases;
  if (
    !Array.isArray(cases) ||
    !cases.every((item) => typeof (item as CaseSummary).name === 'string')
  ) {
    throw usageError(
      `--baseline: ${value} has no "cases" (give a file written by keel eval --json)`,
    );
  }
  return cases as CaseSummary[];
}

function finish(
  report: EvalReport,
  options: {
    json: boolean;
    junit?: string | undefined;
    id: string;
    baselineName?: string | undefined;
  },
): void {
  if (options.junit !== undefined) writeOutputFile(options.junit, junitXml(report), '--junit');
  if (options.json) {
    writeOut(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  print(formatEvalReport(report, { id: options.id, baseline: options.baselineName }));
}

/** The report as a table, failures under their case, regressions, and the final tally line. */
export function formatEvalReport(
  report: EvalReport,
  { id, baseline }: { id?: string | undefined; baseline?: string | undefined } = {},
): string {
  const width = Math.min(64, Math.max(20, ...report.cases.map((summary) => summary.name.length)));
  const lines = [`  ${'case'.padEnd(width)}  pass@1  pass^k  ${'cost'.padStart(9)}  steps`];
  for (const summary of report.cases) {
    const mark = summary.passed ? pc.green('✓') : pc.red('✗');
    const change = summary.baseline?.change;
    const note =
      change === 'pass→fail'
        ? pc.red('  regressed')
        : change === 'fail→pass'
          ? pc.green('  fixed')
          : '';
    lines.push(
      `${mark} ${summary.name.slice(0, width).padEnd(width)}  ${summary.passAt1.toFixed(2).padStart(6)}  ${`${summary.passHatK * summary.k}/${summary.k}`.padStart(6)}  ${`$${summary.costUsd.toFixed(5)}`.padStart(9)}  ${String(summary.steps).padStart(5)}${note}`,
    );
    for (const failure of summary.failures.slice(0, 6)) {
      const [first, ...rest] = failure.message.split('\n');
      lines.push(pc.gray(`    attempt ${failure.attempt}: ${failure.assertion}: ${first ?? ''}`));
      for (const line of rest) lines.push(pc.gray(`      ${line}`));
    }
    if (summary.failures.length > 6)
      lines.push(pc.gray(`    … ${summary.failures.length - 6} more`));
  }
  if (report.regressions.length > 0) {
    lines.push('', pc.red(`regressions against ${baseline ?? 'the baseline'}:`));
    for (const regression of report.regressions) {
      lines.push(
        regression.kind === 'status'
          ? `  ${regression.case}: passed, now fails`
          : `  ${regression.case}: ${regression.kind} ${regression.before} → ${regression.after} (+${regression.delta ?? 0})`,
      );
    }
  }
  lines.push(
    '',
    `pass@1 ${report.passAt1} · pass^${report.k} ${report.passHatK} · cost $${report.costUsd.toFixed(5)} · ${(report.durationMs / 1000).toFixed(1)} s${id ? ` · stored as ${id}` : ''}`,
    `${report.passed} passed, ${report.failed} failed`,
  );
  return lines.join('\n');
}

/** Cases done / total and the time elapsed, on a terminal only (never with --json or in CI). */
function progressLine(wanted: boolean): {
  update(done: number, total: number): void;
  clear(): void;
} {
  const live = wanted && process.stderr.isTTY && !process.env.CI;
  const startedAt = Date.now();
  return {
    update(done, total) {
      if (!live) return;
      writeErr(`\r  ${done}/${total} runs · ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    },
    clear() {
      if (live) writeErr('\r\x1b[2K');
    },
  };
}

/** `keel eval record`: freeze a stored run into a case of a JSON suite (created if missing). */
export async function runEvalRecord(options: {
  readonly globals: CliGlobals;
  readonly runId: string;
  readonly suite: string;
  readonly name?: string | undefined;
  readonly json: boolean;
}): Promise<void> {
  const { goldenCase } = await import('../eval/index.js');
  if (!options.suite.endsWith('.json')) {
    throw usageError('--suite: recording writes a JSON suite (a *.eval.json file)');
  }
  checkWritable(options.suite, '--suite');
  const store = await openStoreFromOptions(options.globals);
  let recorded;
  try {
    const events = await store.readEvents(options.runId);
    if (events.length === 0)
      throw new KeelError('not_found', `no run ${options.runId} in ${store.location}`);
    recorded = goldenCase(
      events.map(({ at, event }) => ({ at, event })),
      options.name === undefined ? {} : { name: options.name },
    );
  } finally {
    await store.close();
  }
  const path = resolve(options.suite);
  let suite: { cases?: unknown[] } & Record<string, unknown> = {
    name: basename(path).replace(/\.eval\.json$/, ''),
    cases: [],
  };
  if (existsSync(path)) {
    try {
      suite = JSON.parse(readFileSync(path, 'utf8')) as typeof suite;
    } catch {
      throw usageError(`--suite: ${options.suite} is not JSON`);
    }
    if (!Array.isArray(suite.cases))
      throw usageError(`--suite: ${options.suite} has no "cases" array`);
  }
  const cases = (suite.cases ?? []).filter(
    (existing) => (existing as { name?: unknown }).name !== recorded.name,
  );
  const replaced = cases.length !== (suite.cases ?? []).length;
  writeOutputFile(
    options.suite,
    `${JSON.stringify({ ...suite, cases: [...cases, recorded] }, null, 2)}\n`,
    '--suite',
  );
  if (options.json) {
    writeOut(`${JSON.stringify({ suite: options.suite, case: recorded }, null, 2)}\n`);
    return;
  }
  print(
    `${replaced ? 'replaced' : 'added'} "${recorded.name}" in ${options.suite}: ${recorded.fixtures?.length ?? 0} fixture(s), ${recorded.expect.length} assertion(s) to edit`,
  );
}
