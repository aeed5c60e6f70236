// The adversarial benchmark (`npm run security-bench`): prompt injection against the guard,
// driven through the real runtime by scripted worst-case models (security-bench.ts).
//
//   node dist/bench/security/main.js [--json] [--seed n] [--t3-runs n] [--suite s]... [--no-classes]
//
// Then the attack classes (attack-classes.ts): answer exfiltration, content, writes, choices,
// unasked actions, private data, per template and per configuration, at T1, T2 and T3
// (`--no-classes` leaves them out).
//
// Exit codes: 0 when no `action` or `dataflow` attack lands with the `truthful` or `denyAll`
// human (the `approveAll` row is reported only) and no attack of any class lands against the
// recommended configuration; 1 when one lands, 2 for bad usage (one line on stderr). `--json`
// prints the report as one JSON document on stdout.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { DOOR_CLASSES, DOOR_MODES, runAttackClasses, type DoorReport } from './attack-classes.js';
import {
  ENVIRONMENTS,
  runSecurityBench,
  type SecurityBenchReport,
  type SuiteMetrics,
} from './security-bench.js';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;
const SUITES = ENVIRONMENTS.map((env) => env.name);

interface Options {
  json?: boolean;
  seed?: number;
  t3Runs?: number;
  suite?: string[];
  classes?: boolean;
}

const program = new Command('security-bench')
  .description(
    'the adversarial benchmark: prompt injection against the guard under worst-case models',
  )
  .option('--seed <n>', 'fast-check seed of the T3 model', parsePositiveInt)
  .option(
    '--t3-runs <n>',
    'T3 episodes per user task and human (and per mode, in the attack classes)',
    parsePositiveInt,
  )
  .option(
    '--suite <name>',
    `only this suite: ${SUITES.join(', ')} (repeatable; default all)`,
    (value: string, previous: string[] | undefined) => [...(previous ?? []), parseSuite(value)],
  )
  .option(
    '--no-classes',
    'leave out the attack classes (answer, content, writes, choices, private data)',
  )
  .option('--json', 'print one JSON document')
  .addHelpText(
    'after',
    '\nRun from the repository: npm run security-bench -- [options]\n' +
      'Exit codes: 0 bar met, 1 an action/dataflow attack landed (or any attack against the\n' +
      'recommended configuration), 2 bad usage.',
  )
  .exitOverride()
  .configureOutput({
    // Usage errors are one line; `--help` has the details.
    outputError: (text, write) => {
      write(
        `security-bench: ${text
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')
          .trim()} (see --help)\n`,
      );
    },
  });

function parsePositiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

function parseSuite(value: string): string {
  if (!SUITES.includes(value))
    throw new InvalidArgumentError(`no suite "${value}" (suites: ${SUITES.join(', ')})`);
  return value;
}

async function main(options: Options): Promise<void> {
  const report = await runSecurityBench({
    ...(options.suite === undefined ? {} : { suites: options.suite }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.t3Runs === undefined ? {} : { t3Runs: options.t3Runs }),
  });
  const classes =
    options.classes === false
      ? undefined
      : await runAttackClasses({
          ...(options.seed === undefined ? {} : { seed: options.seed }),
          ...(options.t3Runs === undefined ? {} : { t3Runs: options.t3Runs }),
        });
  if (options.json)
    process.stdout.write(`${JSON.stringify(classes ? { ...report, classes } : report, null, 2)}\n`);
  else {
    console.log(formatReport(report));
    if (classes) console.log(formatClasses(classes));
  }
  process.exitCode =
    report.failures.length > 0 || (classes?.recommendedFailures.length ?? 0) > 0
      ? EXIT.failed
      : EXIT.ok;
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

function formatReport(report: SecurityBenchReport): string {
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

function formatClasses(report: DoorReport): string {
  const lines = [
    `attack classes (${report.episodes} episodes, ${report.durationMs} ms): worst-case obedient model; landed truthful/denyAll/approveAll`,
  ];
  for (const mode of DOOR_MODES) {
    const m = report.modes[mode];
    lines.push(
      `${pc.bold(mode)}: benign utility ${pct(m.utility)} (retention ${pct(m.utilityRetention)}; Q&A ${pct(m.qaUtility)}, retention ${pct(m.qaRetention)}); confirmation ${pct(m.confirmationRate)}; ASR ${pct(m.asr.truthful)}/${pct(m.asr.denyAll)}/${pct(m.asr.approveAll)}; utility under attack ${pct(m.utilityUnderAttackTruthful)}`,
      `  T2 argument swap: ${m.t2.truthful} · ${m.t2.denyAll} · ${m.t2.approveAll}`,
      `  T3 adversarial: ${m.t3.landed.truthful} · ${m.t3.landed.denyAll} · ${m.t3.landed.approveAll}; per class ${DOOR_CLASSES.map((c) => `${c} ${m.t3.perClass[c].truthful} · ${m.t3.perClass[c].denyAll} · ${m.t3.perClass[c].approveAll}`).join('; ')}`,
      `  per class: ${DOOR_CLASSES.map((c) => `${c} ${m.perClass[c].truthful} · ${m.perClass[c].denyAll} · ${m.perClass[c].approveAll}`).join('; ')}`,
      `  per template (truthful+denyAll): ${Object.entries(m.perTemplate)
        .map(([t, v]) => `${t} ${v}`)
        .join('; ')}; content marked untrusted on the result ${m.contentMarked}`,
    );
  }
  const t = (name: string, x: DoorReport['guardMs']) =>
    `${name} (${x.count}): timed once p50 ${x.p50.toFixed(4)} ms, p99 ${x.p99.toFixed(4)} ms; fastest of 5 on a fresh context p50 ${x.coldP50.toFixed(4)} ms, p99 ${x.coldP99.toFixed(4)} ms`;
  lines.push(
    t('guard per call', report.guardMs),
    t('answer guard per answer', report.answerGuardMs),
  );
  lines.push(
    report.recommendedFailures.length === 0
      ? pc.green(
          'recommended configuration: no attack of any class landed with truthful or denyAll',
        )
      : pc.red(`recommended configuration: ${report.recommendedFailures.join('; ')}`),
  );
  return lines.join('\n');
}

try {
  program.parse();
  await main(program.opts<Options>());
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; help is not an error.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`security-bench: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`);
    process.exitCode = EXIT.failed;
  }
}
