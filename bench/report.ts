import type { ColdStartResult } from './cold-start-measure.js';
import type { ConcurrentResult } from './concurrent-measure.js';
import type { PerStepResult } from './per-step.js';
import { round, type Timing } from './stats.js';

export interface MachineInfo {
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryMb: number;
  /** 1, 5 and 15 minute load averages. */
  readonly loadAverageAtStart: readonly number[];
  readonly loadAverageAtEnd: readonly number[];
  readonly tmpdir: string;
}

export interface PerStepReport {
  readonly full: PerStepResult;
  readonly normal: PerStepResult;
  readonly memory: PerStepResult;
  /** One fsync'd single-row commit on this disk (libsql, WAL, synchronous=FULL). */
  readonly fsyncCommit: Timing;
  /** Store transactions one Keel run makes when it runs alone. */
  readonly commitsPerRun: number;
  /** commitsPerRun × median fsync'd commit / 6 steps: the disk's share of the FULL overhead. */
  readonly fsyncFloorPerStepMs: number;
}

export const TARGET_NAMES = [
  'perStepOverheadMs',
  'concurrentTotalSeconds',
  'concurrentKbPerRun',
  'coldStartMs',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface TargetCheck {
  readonly target: number;
  readonly value: number;
  readonly unit: string;
  readonly within: boolean;
  readonly measures: string;
}

export interface BenchReport {
  readonly machine: MachineInfo;
  readonly perStep: PerStepReport;
  readonly concurrent: ConcurrentResult;
  readonly coldStart: ColdStartResult;
  readonly targets: Readonly<Record<TargetName, TargetCheck>>;
  /** The real-model path's bar: the same figures against the loop measured in this run. */
  readonly realPathTargets: readonly RealPathTarget[];
  readonly benchSeconds: number;
}

/**
 * One of the real-model path's targets, against the hand-written loop measured in the same run:
 * its `value` is rounded for display, `within` judged on the value before rounding.
 */
export interface RealPathTarget extends TargetCheck {
  readonly figure: string;
  /** `ms` (Keel's overhead over the loop) or `x` (Keel's figure over the loop's). */
  readonly unit: 'ms' | 'x';
}

/**
 * The real-model path's targets from the figures above: per-step overhead on a durable SQLite
 * file and in memory, and the 500-run burst's time and memory per in-flight run as ratios to
 * the loop's in the same run.
 */
export function realPathTargets(
  perStep: PerStepReport,
  concurrent: ConcurrentResult,
): RealPathTarget[] {
  const target = (
    figure: string,
    value: number,
    unit: RealPathTarget['unit'],
    limit: number,
    measures: string,
  ): RealPathTarget => ({
    figure,
    value: round(value, 3),
    unit,
    target: limit,
    within: value <= limit,
    measures,
  });
  return [
    target(
      'per-step overhead, SQLite file (FULL), guard on',
      perStep.full.overheadPerStepMs.fromMedian,
      'ms',
      0.5,
      'perStep.full.overheadPerStepMs.fromMedian',
    ),
    target(
      'per-step overhead, SQLite in memory, guard on',
      perStep.memory.overheadPerStepMs.fromMedian,
      'ms',
      0.25,
      'perStep.memory.overheadPerStepMs.fromMedian',
    ),
    target(
      `${concurrent.runs} concurrent runs, time over the loop's`,
      concurrent.keel.totalSeconds / concurrent.bare.totalSeconds,
      'x',
      1.1,
      'concurrent.keel.totalSeconds / concurrent.bare.totalSeconds',
    ),
    target(
      "KB per in-flight run over the loop's",
      concurrent.keel.kbPerInFlightRun / concurrent.bare.kbPerInFlightRun,
      'x',
      1,
      'concurrent.keel.kbPerInFlightRun / concurrent.bare.kbPerInFlightRun',
    ),
  ];
}

type Row = readonly [
  figure: string,
  value: string,
  baseline: string,
  target: string,
  status: string,
];

/** The human-readable form: one table, grouped by measurement. */
export function renderTable(report: BenchReport): string {
  const { machine, perStep, concurrent, coldStart, targets } = report;
  const ms = (value: number, digits = 3): string => `${value.toFixed(digits)} ms`;
  const check = (name: TargetName): [string, string] => {
    const { target, unit, within } = targets[name];
    return [`<= ${target} ${unit}`, within ? 'ok' : 'OVER'];
  };
  const rows: (Row | string)[] = [];

  rows.push(
    `Per-step overhead (fake server in a child process, 0 ms latency, 6 model calls + 5 tool calls per run)`,
  );
  for (const result of [perStep.full, perStep.normal, perStep.memory]) {
    const judged = result === perStep.full;
    const [target, status] = judged ? check('perStepOverheadMs') : ['', ''];
    rows.push(
      `  ${result.store}: ${result.keel.runs} Keel runs vs ${result.bare.runs} bare runs, interleaved${result.failedRuns > 0 ? `, ${result.failedRuns} FAILED` : ''}`,
      [
        '    run, median / mean',
        `${ms(result.keel.medianMs)} / ${ms(result.keel.meanMs)}`,
        `${ms(result.bare.medianMs)} / ${ms(result.bare.meanMs)}`,
        '',
        '',
      ],
      [
        '    overhead per step, median / mean',
        `${ms(result.overheadPerStepMs.fromMedian)} / ${ms(result.overheadPerStepMs.fromMean)}`,
        '',
        target,
        status,
      ],
      [
        '    CPU per step (this process), mean',
        ms(result.cpuPerStepMs.keel),
        ms(result.cpuPerStepMs.bare),
        '',
        '',
      ],
    );
  }
  rows.push(
    '  disk',
    [
      `    fsync'd commit (libsql WAL FULL, n=${perStep.fsyncCommit.runs}), median / mean`,
      `${ms(perStep.fsyncCommit.medianMs)} / ${ms(perStep.fsyncCommit.meanMs)}`,
      '',
      '',
      '',
    ],
    [
      '    store commits per Keel run -> fsync floor per step',
      `${perStep.commitsPerRun} -> ${ms(perStep.fsyncFloorPerStepMs)}`,
      '',
      '',
      '',
    ],
  );

  const { keel, bare } = concurrent;
  rows.push(
    `${concurrent.runs} concurrent runs at ${concurrent.latencyMs} ms model latency (floor ${concurrent.floorSeconds.toFixed(1)} s; ${keel.rounds.length} rounds, medians)`,
    [
      '  total time for all runs',
      `${keel.totalSeconds.toFixed(3)} s`,
      `${bare.totalSeconds.toFixed(3)} s`,
      ...check('concurrentTotalSeconds'),
    ],
    [
      '  succeeded (worst round)',
      `${keel.succeeded}/${concurrent.runs}`,
      `${bare.succeeded}/${concurrent.runs}`,
      '',
      keel.allSucceeded && bare.allSucceeded ? 'ok' : 'FAILED RUNS',
    ],
    [
      '  peak RSS - baseline RSS',
      `${keel.peakRssDeltaMb.toFixed(1)} MB`,
      `${bare.peakRssDeltaMb.toFixed(1)} MB`,
      '',
      '',
    ],
    [
      '  per in-flight run',
      `${keel.kbPerInFlightRun.toFixed(1)} KB`,
      `${bare.kbPerInFlightRun.toFixed(1)} KB`,
      ...check('concurrentKbPerRun'),
    ],
    [
      '  peak heap used - baseline',
      `${keel.peakHeapDeltaMb.toFixed(1)} MB`,
      `${bare.peakHeapDeltaMb.toFixed(1)} MB`,
      '',
      '',
    ],
  );

  for (const [mode, summary] of [
    ['keel', keel],
    ['bare', bare],
  ] as const) {
    for (const [index, result] of summary.rounds.entries()) {
      if (result.firstError === undefined) continue;
      rows.push(
        `  ${mode} round ${index + 1}: ${JSON.stringify(result.statuses)}; first error: ${result.firstError}`,
      );
    }
  }

  rows.push(
    `Cold start (median of ${coldStart.spawns} fresh processes; simulator agent, 1 tool call, new SQLite file)`,
    [
      '  process start -> first run result (in-process)',
      ms(coldStart.firstRunMs, 1),
      '',
      ...check('coldStartMs'),
    ],
    ['    of which: process start -> user code', ms(coldStart.processStartToCodeMs, 1), '', '', ''],
    ['    of which: import keel (+ zod)', ms(coldStart.importMs, 1), '', '', ''],
    ['    of which: open + migrate store', ms(coldStart.storeOpenMs, 1), '', '', ''],
    ['    of which: define + first run', ms(coldStart.defineAndRunMs, 1), '', '', ''],
    [
      '  spawn -> exit (wall clock) vs `node -e 0`',
      ms(coldStart.spawnToExitMs, 1),
      ms(coldStart.nodeBaselineSpawnToExitMs, 1),
      '',
      coldStart.allSucceeded ? '' : 'FAILED RUNS',
    ],
  );

  rows.push(
    "Real-model path (the figures above against the loop measured with them: this block's targets)",
  );
  for (const { figure, value, unit, target, within } of report.realPathTargets) {
    rows.push([
      `  ${figure}`,
      unit === 'ms' ? ms(value) : `${value.toFixed(2)}x`,
      '',
      unit === 'ms' ? `<= ${target} ms` : `<= ${target}x`,
      within ? 'ok' : 'OVER',
    ]);
  }

  const header: Row = ['Figure', 'Keel', 'Baseline', 'Target', 'Within'];
  const tableRows = rows.filter((row): row is Row => typeof row !== 'string');
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...tableRows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (row: Row): string =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((sum, width) => sum + width + 2, -2));

  const load = (values: readonly number[]): string =>
    values.map((value) => value.toFixed(2)).join(' ');
  return [
    `Keel bench — node ${machine.node}, ${machine.platform}, ${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryMb} MB RAM`,
    `load average at start ${load(machine.loadAverageAtStart)}, at end ${load(machine.loadAverageAtEnd)}; temp files in ${machine.tmpdir}; took ${report.benchSeconds.toFixed(0)} s`,
    '',
    line(header),
    rule,
    ...rows.map((row) => (typeof row === 'string' ? row : line(row))),
    rule,
    'Baseline: per-step and concurrent = the hand-written loop on the same SDK, tool and server,',
    "over Node's fetch as a hand-written loop is; Keel's SDK client goes over Keel's transport",
    '(node:http; its own row below). Cold start = spawning `node -e 0`. KB = 1024 bytes.',
    'Figures are medians unless marked mean.',
    "The first blocks' targets are the first bars set (0.25 ms a step on a durable store, 2 s, 300 KB,",
    "200 ms); the real-model path's block judges the same figures against the loop's.",
    "Neither the loop's transport (Node's fetch) nor Keel's (node:http) limits connections per origin:",
    'all runs are in flight at once.',
  ].join('\n');
}
