import { KeelError, digest } from '../core/index.js';
import {
  BASELINE_METRICS,
  agentBaselines,
  baselineOf,
  metricValue,
  type Baseline,
  type BaselineMetric,
} from './baselines.js';
import type { RunMetrics } from './run-metrics.js';

/** Every kind of alert the monitor raises. */
export const ALERT_KINDS = [
  'baseline_exceeded',
  'repeated_tool_call',
  'tool_error_burst',
  'output_token_spike',
  'suspicious_action',
  // An MCP tool whose definition has no pin or differs from it: withheld until approved.
  'mcp_tool_withheld',
  // A run ended with calls whose effect is unknown: a human checks them by idempotency key.
  'in_doubt',
] as const;
/** One kind of alert: a run drifted from its baseline, a call repeated, a burst of tool errors, a suspicious action. */
export type AlertKind = (typeof ALERT_KINDS)[number];

/** A run that drifted from its agent's normal, or misbehaved on its own. Plain JSON. */
export interface Alert {
  /** Stable for the same run, kind and metric: raising it twice is the same alert. */
  readonly id: string;
  readonly kind: AlertKind;
  readonly runId: string;
  readonly agent: string;
  /** The agent version the run ran (absent for runs journaled before versions). */
  readonly version?: string | undefined;
  /** When the run finished, ms since the epoch. */
  readonly at: number;
  readonly metric: string;
  readonly value: number;
  /** The figure `value` went past. */
  readonly threshold: number;
  readonly baseline: Baseline | null;
  readonly message: string;
  /** Commands that show more (default: the run's trace and `keel alerts`). */
  readonly commands?: readonly string[] | undefined;
}

/**
 * When a metric is out of line: above `ratio` × the baseline's p50, or more than `zScore`
 * standard deviations above its mean (either, when both are set), and in any case above
 * `min` when it is set.
 */
export interface Threshold {
  readonly ratio?: number | undefined;
  readonly zScore?: number | undefined;
  readonly min?: number | undefined;
}

/** The thresholds alerts fire at: drift from the baseline, repeated calls, tool-error bursts. */
export interface AlertRules {
  /** Earlier runs of the agent a baseline is made of (most recent first). */
  readonly window: number;
  /** No baseline alert below this many earlier runs. */
  readonly minSamples: number;
  readonly thresholds: Readonly<Partial<Record<BaselineMetric, Threshold>>>;
  /** Alert when one tool is asked this many times with the same arguments in a run. */
  readonly repeatedToolCalls: number;
  /** Alert when this many tool calls in a row end in an error. */
  readonly toolErrorBurst: number;
  /** Alert when a single call's output exceeds this × the baseline p95 of that figure. */
  readonly outputTokenSpikeRatio: number;
}

/** The alert thresholds used when none are given. */
export const DEFAULT_ALERT_RULES: AlertRules = Object.freeze({
  window: 50,
  minSamples: 5,
  thresholds: Object.freeze({
    tokens: { ratio: 3 },
    costUsd: { ratio: 3 },
    durationMs: { ratio: 3 },
    iterations: { ratio: 3 },
    toolErrorRate: { ratio: 2, min: 0.25 },
  }),
  repeatedToolCalls: 3,
  toolErrorBurst: 3,
  outputTokenSpikeRatio: 5,
});

/** Rules from partial options over the defaults; bad values throw `invalid_config` naming them. */
export function resolveAlertRules(options: Partial<AlertRules> = {}): AlertRules {
  const rules: AlertRules = {
    ...DEFAULT_ALERT_RULES,
    ...options,
    thresholds: { ...DEFAULT_ALERT_RULES.thresholds, ...options.thresholds },
  };
  const positiveInteger = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1) {
      throw new KeelError('invalid_config', `alert rules: "${name}" must be an integer >= 1`);
    }
  };
  positiveInteger('window', rules.window);
  positiveInteger('minSamples', rules.minSamples);
  positiveInteger('repeatedToolCalls', rules.repeatedToolCalls);
  positiveInteger('toolErrorBurst', rules.toolErrorBurst);
  if (!(rules.outputTokenSpikeRatio > 0)) {
    throw new KeelError('invalid_config', 'alert rules: "outputTokenSpikeRatio" must be > 0');
  }
  for (const [metric, threshold] of Object.entries(rules.thresholds)) {
    if (!(BASELINE_METRICS as readonly string[]).includes(metric)) {
      throw new KeelError('invalid_config', `alert rules: unknown metric "${metric}"`);
    }
    for (const field of ['ratio', 'zScore', 'min'] as const) {
      const value = threshold[field];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new KeelError(
          'invalid_config',
          `alert rules: "thresholds.${metric}.${field}" must be a number >= 0`,
        );
      }
    }
  }
  return rules;
}

/** The figure a value must exceed under `threshold`, or `undefined` when nothing applies. */
function limitOf(threshold: Threshold, baseline: Baseline): number | undefined {
  const limits: number[] = [];
  if (threshold.ratio !== undefined) limits.push(baseline.p50 * threshold.ratio);
  if (threshold.zScore !== undefined && baseline.stddev > 0) {
    limits.push(baseline.mean + threshold.zScore * baseline.stddev);
  }
  if (limits.length === 0) return undefined;
  // "Either" check: the lower limit is the one crossed first.
  return Math.max(Math.min(...limits), threshold.min ?? -Infinity);
}

function alert(
  run: RunMetrics,
  kind: AlertKind,
  metric: string,
  value: number,
  threshold: number,
  baseline: Baseline | null,
  message: string,
): Alert {
  return {
    id: `alert_${digest(`${run.runId}:${kind}:${metric}`).slice(0, 16)}`,
    kind,
    runId: run.runId,
    agent: run.agent,
    ...(run.version === undefined ? {} : { version: run.version }),
    at: run.finishedAt,
    metric,
    value,
    threshold,
    baseline,
    message,
  };
}

const round = (value: number): string =>
  Number.isInteger(value) ? String(value) : value.toPrecision(4);

/**
 * The alerts one finished run raises against its agent's earlier runs (`history`, most recent
 * first; only the first `rules.window` are used).
 *
 * ```ts
 * const alerts = detectAlerts(runMetrics(runId, entries)!, earlierRuns, DEFAULT_ALERT_RULES);
 * ```
 */
export function detectAlerts(
  run: RunMetrics,
  history: readonly RunMetrics[],
  rules: AlertRules = DEFAULT_ALERT_RULES,
): Alert[] {
  const alerts: Alert[] = [];
  const recent = history.slice(0, rules.window);
  if (recent.length >= rules.minSamples) {
    const baselines = agentBaselines(recent);
    for (const metric of BASELINE_METRICS) {
      const threshold = rules.thresholds[metric];
      const baseline = baselines[metric];
      const value = metricValue(run, metric);
      if (!threshold || !baseline || value === undefined || baseline.n < rules.minSamples) continue;
      const limit = limitOf(threshold, baseline);
      if (limit === undefined || !(value > limit)) continue;
      alerts.push(
        alert(
          run,
          'baseline_exceeded',
          metric,
          value,
          limit,
          baseline,
          `${run.agent} run ${run.runId}: ${metric} ${round(value)} is above ${round(limit)} (p50 ${round(baseline.p50)} over ${baseline.n} runs)`,
        ),
      );
    }
    const outputs = baselineOf(recent.map((earlier) => earlier.maxCallOutputTokens));
    if (outputs) {
      const limit = outputs.p95 * rules.outputTokenSpikeRatio;
      if (run.maxCallOutputTokens > limit) {
        alerts.push(
          alert(
            run,
            'output_token_spike',
            'maxCallOutputTokens',
            run.maxCallOutputTokens,
            limit,
            outputs,
            `${run.agent} run ${run.runId}: one model call wrote ${run.maxCallOutputTokens} tokens, over ${rules.outputTokenSpikeRatio}× the usual p95 of ${outputs.p95}`,
          ),
        );
      }
    }
  }
  if (run.maxIdenticalToolCalls >= rules.repeatedToolCalls) {
    alerts.push(
      alert(
        run,
        'repeated_tool_call',
        'maxIdenticalToolCalls',
        run.maxIdenticalToolCalls,
        rules.repeatedToolCalls,
        null,
        `${run.agent} run ${run.runId}: the same tool call with the same arguments ${run.maxIdenticalToolCalls} times`,
      ),
    );
  }
  const flagged = run.flaggedActions ?? 0;
  if (flagged > 0) {
    alerts.push(
      alert(
        run,
        'suspicious_action',
        'flaggedActions',
        flagged,
        1,
        null,
        `${run.agent} run ${run.runId}: ${flagged} call(s) did not fit the task (${(run.flagKinds ?? []).join(', ')})`,
      ),
    );
  }
  const inDoubt = run.inDoubtKeys ?? [];
  if (inDoubt.length > 0) {
    alerts.push(
      alert(
        run,
        'in_doubt',
        'inDoubtCalls',
        inDoubt.length,
        1,
        null,
        `${run.agent} run ${run.runId}: it ended (${run.status}) during ${inDoubt.length} call(s) that may have taken effect; check idempotency key(s) ${inDoubt.join(', ')}`,
      ),
    );
  }
  if (run.maxConsecutiveToolErrors >= rules.toolErrorBurst) {
    alerts.push(
      alert(
        run,
        'tool_error_burst',
        'maxConsecutiveToolErrors',
        run.maxConsecutiveToolErrors,
        rules.toolErrorBurst,
        null,
        `${run.agent} run ${run.runId}: ${run.maxConsecutiveToolErrors} tool calls in a row failed`,
      ),
    );
  }
  return alerts;
}

/**
 * Delivers alerts somewhere people see them (a webhook, chat, mail). Implementations should
 * honour `signal`; a rejection is counted, never retried by the caller.
 */
export interface AlertNotifier {
  notify(alert: Alert, options: { readonly signal: AbortSignal }): Promise<void>;
}
