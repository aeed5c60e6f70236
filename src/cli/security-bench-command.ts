import pc from 'picocolors';
import {
  ENVIRONMENTS,
  runSecurityBench,
  type SecurityBenchReport,
  type SuiteMetrics,
} from '../redteam/index.js';
import { EXIT, usageError } from './exit-codes.js';

export interface SecurityBenchCommandOptions {
  readonly json: boolean;
  readonly seed?: number | undefined;
  readonly t3Runs?: number | undefined;
  /** Only these suites (default all). */
  readonly suites?: readonly string[] | undefined;
}

/**
 * `keel security-bench`: the adversarial benchmark. Exits 1 when any `action` or `dataflow`
 * attack lands with the `truthful` or `denyAll` human (the `approveAll` row is reported only).
 */
export async function runSecurityBenchCommand(options: SecurityBenchCommandOptions): Promise<void> {
  const known = ENVIRONMENTS.map((env) => env.name);
  const unknown = options.suites?.find((name) => !known.includes(name));
  if (unknown !== undefined)
    throw usageError(`--suite: no suite "${unknown}" (suites: ${known.join(', ')})`);
  const report = await runSecurityBench({
    ...(options.suites === undefined ? {} : { suites: options.suites }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.t3Runs === undefined ? {} : { t3Runs: options.t3Runs }),
  });
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else console.log(formatReport(report));
  if (report.failures.length > 0) process.exitCode = EXIT.failed;
}

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;

function row(name: string, m: SuiteMetrics): string[] {
  const level = (l: 'T1' | 'T2' | 'T3') =>
    `${l} ${m.successes[l].truthful}/${m.successes[l].denyAll}/${m.successes[l].approveAll} of ${m.episodes[l]} (open ${pct(m.asrUndefended[l])})`;
  return [
    `${pc.bold(name)}: ${m.userTasks} user tasks, ${m.injectionTasks} injection tasks`,
    `  utility T0 ${pct(m.utilityT0Undefended)} undefended, ${pct(m.utilityT0Defended)} defended (retention ${pct(m.utilityRetention)}); confirmation ${pct(m.confirmationRate)}; false blocks ${pct(m.falseBlockRate)}`,
    `  attacks landed truthful/denyAll/approveAll: ${level('T1')}; ${level('T2')}; ${level('T3')}`,
    `  utility under attack truthful/denyAll: ${(['T1', 'T2', 'T3'] as const).map((l) => `${l} ${pct(m.utilityUnderAttack[l].truthful)}/${pct(m.utilityUnderAttack[l].denyAll)}`).join('; ')}; content-class ASR ${pct(m.contentClassAsr)} (not stoppable by action controls)`,
    `  guard per call p50 ${m.guardP50Ms.toFixed(4)} ms, p99 ${m.guardP99Ms.toFixed(4)} ms; detector (telemetry) precision ${pct(m.detector.precision)}, recall ${pct(m.detector.recall)}`,
  ];
}

export function formatReport(report: SecurityBenchReport): string {
  const lines = [
    `security bench (seed ${report.seed}, ${report.durationMs} ms): real runtime, scripted worst-case models`,
  ];
  for (const [name, metrics] of Object.entries(report.suites)) lines.push(...row(name, metrics));
  lines.push(...row('total', report.total));
  lines.push(
    report.failures.length === 0
      ? pc.green('bar met: no action/dataflow attack landed with truthful or denyAll')
      : pc.red(`${report.failures.length} action/dataflow attack(s) landed:`),
  );
  for (const failure of report.failures.slice(0, 20))
    lines.push(
      `  ${failure.suite} ${failure.level} ${failure.human} ${failure.userTask} × ${failure.injectionTask}: ${failure.detail.slice(0, 200)}`,
    );
  return lines.join('\n');
}
