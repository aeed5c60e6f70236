import { pc } from './terminal.js';
import {
  ATTR,
  alertRunbook,
  type Alert,
  type CostLine,
  type CostTotals,
  type SpanNode,
} from '../observe/index.js';
import type { ReplayReport } from '../engine/index.js';
import { formatUsd } from './format.js';

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

function spanFacts(span: SpanNode): string {
  const facts: string[] = [];
  const input = span.attributes[ATTR.usageInputTokens];
  const output = span.attributes[ATTR.usageOutputTokens];
  if (typeof input === 'number' && typeof output === 'number') {
    facts.push(`${input} in / ${output} out tok`);
  }
  const cost = span.attributes[ATTR.costUsd];
  if (typeof cost === 'number') facts.push(formatUsd(cost));
  const attempts = span.attributes[ATTR.attempts];
  if (typeof attempts === 'number' && attempts > 1) facts.push(`${attempts} attempts`);
  const status = span.attributes[ATTR.runStatus];
  if (typeof status === 'string') facts.push(status);
  const errorType = span.attributes[ATTR.errorType];
  if (span.status.code === 'error') facts.push(pc.red(`error ${String(errorType ?? '')}`.trim()));
  return facts.join('  ');
}

/** `keel trace`: the span tree with offsets from the run's start, timings, tokens and cost. */
export function formatTrace(runId: string, roots: readonly SpanNode[]): string {
  const lines: string[] = [`${pc.bold('trace')} ${roots[0]?.traceId ?? ''}  (run ${runId})`];
  const origin = roots[0]?.startMs ?? 0;
  const walk = (span: SpanNode, depth: number): void => {
    const indent = '  '.repeat(depth);
    const offset = pc.gray(`+${seconds(span.startMs - origin)}`.padStart(9));
    const duration = seconds(span.endMs - span.startMs).padStart(7);
    lines.push(`${offset} ${duration}  ${indent}${pc.bold(span.name)}  ${spanFacts(span)}`);
    for (const event of span.events) {
      const details = Object.entries(event.attributes)
        .map(([key, value]) => `${key.replace(/^keel\./, '')}=${String(value)}`)
        .join(' ');
      lines.push(
        `${pc.gray(`+${seconds(event.timeMs - origin)}`.padStart(9))} ${''.padStart(7)}  ${indent}  ${pc.yellow('·')} ${event.name} ${pc.gray(details)}`,
      );
    }
    for (const child of span.children) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  return lines.join('\n');
}

function costTable(title: string, rows: readonly CostLine[]): string[] {
  if (rows.length === 0) return [];
  const width = Math.max(8, ...rows.map((row) => row.key.length));
  const lines = [
    pc.bold(title),
    pc.gray(
      `  ${'key'.padEnd(width)}  ${'runs'.padStart(5)}  ${'calls'.padStart(6)}  ${'tokens in'.padStart(10)}  ${'tokens out'.padStart(10)}  cost`,
    ),
  ];
  for (const row of rows) {
    const unpriced = row.unpricedCalls > 0 ? pc.yellow(` (+${row.unpricedCalls} unpriced)`) : '';
    lines.push(
      `  ${row.key.padEnd(width)}  ${String(row.runs).padStart(5)}  ${String(row.modelCalls).padStart(6)}  ${String(row.inputTokens).padStart(10)}  ${String(row.outputTokens).padStart(10)}  ${formatUsd(row.costUsd)}${unpriced}`,
    );
  }
  return lines;
}

/** `keel costs`: totals per agent, model, day and tool. */
export function formatCosts(totals: CostTotals, since: string | undefined): string {
  if (totals.runs === 0) return `no runs${since ? ` since ${since}` : ''}`;
  const lines = [
    `${pc.bold('total')} ${formatUsd(totals.total.costUsd)} over ${totals.runs} run(s), ${totals.total.modelCalls} model call(s), ${totals.total.inputTokens} in / ${totals.total.outputTokens} out tokens${since ? ` since ${since}` : ''}`,
    '',
    ...costTable('by agent', totals.byAgent),
    ...costTable('by model', totals.byModel),
    ...costTable('by day (UTC)', totals.byDay),
  ];
  if (totals.byTool.length > 0) {
    const width = Math.max(8, ...totals.byTool.map((row) => row.key.length));
    lines.push(
      pc.bold('by tool'),
      pc.gray(`  ${'tool'.padEnd(width)}  ${'calls'.padStart(6)}  ${'errors'.padStart(6)}  time`),
    );
    for (const row of totals.byTool) {
      lines.push(
        `  ${row.key.padEnd(width)}  ${String(row.calls).padStart(6)}  ${String(row.errors).padStart(6)}  ${seconds(row.totalLatencyMs)}`,
      );
    }
  }
  return lines.join('\n');
}

/** `--since`: an ISO date or time, or a duration back from now (`30m`, `24h`, `7d`). */
export function parseSince(value: string, now: number): number | undefined {
  const relative = /^(\d+)([mhd])$/.exec(value.trim());
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return now - Number(relative[1]) * unit;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** `keel replay`: identical, or the first divergent step with both sides. */
export function formatReplay(report: ReplayReport): string {
  const erased = report.erased
    ? [
        `  erased ${new Date(report.erased.at).toISOString()}: request digests not compared${
          report.erased.steps.length > 0
            ? ` (they differ at step ${report.erased.steps.join(', ')}: they covered erased values)`
            : ''
        }`,
      ]
    : [];
  if (report.identical) {
    return [
      `${pc.green('identical')}: replaying ${report.runId} with the current code reproduced all ${report.comparedEvents} events`,
      ...erased,
    ].join('\n');
  }
  const divergence = report.divergence;
  return [
    `${pc.red('diverged')} at step ${divergence?.step ?? '?'} (after ${report.comparedEvents} identical events): ${divergence?.fields.join(', ') ?? ''} differ`,
    `  expected ${JSON.stringify(divergence?.expected ?? null)}`,
    `  actual   ${JSON.stringify(divergence?.actual ?? null)}`,
    ...erased,
  ].join('\n');
}

/** `keel alerts`: one line per alert, newest first. */
/** `keel alerts --json`: every alert with the runbook that says what to do about it. */
export function alertsJson(alerts: readonly Alert[]) {
  return { alerts: alerts.map((alert) => ({ ...alert, runbook: alertRunbook(alert) })) };
}

export function formatAlerts(alerts: readonly Alert[]): string {
  if (alerts.length === 0) return 'no alerts';
  return alerts
    .map(
      (alert) =>
        `${pc.gray(new Date(alert.at).toISOString())}  ${pc.yellow(alert.kind.padEnd(18))}  ${alert.message}\n${''.padEnd(44)}${pc.gray(`runbook ${alertRunbook(alert)}`)}`,
    )
    .join('\n');
}
