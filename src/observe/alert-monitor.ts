import {
  detectAlerts,
  resolveAlertRules,
  type Alert,
  type AlertNotifier,
  type AlertRules,
} from './alerts.js';
import type { JournalSource } from './journal.js';
import type { RunObserver } from './run-observer.js';
import { runMetrics, type RunMetrics } from './run-metrics.js';
import { timerDelay } from '../core/index.js';

const TERMINAL = ['succeeded', 'failed', 'stopped', 'escalated', 'cancelled'] as const;
/** Finished runs' metrics never change: kept for the next baseline, up to this many. */
const METRICS_CACHE_SIZE = 2_000;

/** Where an alert monitor delivers alerts, and the rules it judges by. */
export interface AlertMonitorOptions {
  readonly rules?: Partial<AlertRules> | undefined;
  /** Where alerts are delivered. */
  readonly notifier?: AlertNotifier | undefined;
  /** Called with each alert as it is raised (before delivery). Must not throw. */
  readonly onAlert?: ((alert: Alert) => void) | undefined;
  /** Longest a delivery may take before it is abandoned (default 10 s). */
  readonly notifyTimeoutMs?: number | undefined;
}

export interface AlertMonitorStats {
  readonly raised: number;
  readonly delivered: number;
  /** Deliveries that failed or timed out, and checks that could not read the store. */
  readonly failed: number;
}

/** An observer that judges each finished run against its baseline and delivers the alerts it raises. */
export interface AlertMonitor extends RunObserver {
  flush(options?: { readonly timeoutMs?: number }): Promise<void>;
  stats(): AlertMonitorStats;
}

/** Metrics of a run, read once and remembered. */
function metricsReader(source: JournalSource, cache: Map<string, RunMetrics | null>) {
  return async function metricsOf(runId: string): Promise<RunMetrics | undefined> {
    const cached = cache.get(runId);
    if (cached !== undefined) return cached ?? undefined;
    const metrics = runMetrics(runId, await source.readEvents(runId));
    if (metrics) {
      if (cache.size >= METRICS_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      cache.set(runId, metrics);
    }
    return metrics;
  };
}

/**
 * An agent version's finished production runs before `run`, most recent first, at most
 * `window`: a new version starts a fresh baseline, and shadow runs are never part of one.
 */
async function historyOf(
  source: JournalSource,
  run: RunMetrics,
  window: number,
  metricsOf: (runId: string) => Promise<RunMetrics | undefined>,
): Promise<RunMetrics[]> {
  const records = await source.listRuns({
    agent: run.agent,
    statuses: TERMINAL,
    limit: window + 20,
  });
  const history: RunMetrics[] = [];
  for (const record of records) {
    if (record.id === run.runId || (record.finishedAt ?? Infinity) > run.finishedAt) continue;
    const metrics = await metricsOf(record.id);
    if (metrics && sameBaseline(metrics, run)) history.push(metrics);
  }
  return history
    .sort((a, b) => b.finishedAt - a.finishedAt || b.runId.localeCompare(a.runId))
    .slice(0, window);
}

/** Whether `earlier` belongs to `run`'s baseline: same agent version, not a shadow run. */
function sameBaseline(earlier: RunMetrics, run: RunMetrics): boolean {
  return earlier.shadowOf === undefined && earlier.version === run.version;
}

/**
 * Watch finished runs for drift and misbehaviour: each finished run is measured from its
 * journal, compared with its agent's rolling baseline (the runs before it), and every alert
 * raised is handed to `onAlert` and the notifier. All of it happens after the run has ended,
 * in the background.
 *
 * ```ts
 * const monitor = alertMonitor({ notifier: webhook, rules: { minSamples: 10 } });
 * const runtime = createRuntime({ store, agents, observers: [monitor] });
 * ```
 */
export function alertMonitor(options: AlertMonitorOptions = {}): AlertMonitor {
  const rules = resolveAlertRules(options.rules);
  const { notifier, onAlert, notifyTimeoutMs = 10_000 } = options;
  const cache = new Map<string, RunMetrics | null>();
  const pending = new Set<Promise<void>>();
  let raised = 0;
  let delivered = 0;
  let failed = 0;

  async function check(runId: string, source: JournalSource): Promise<void> {
    const metricsOf = metricsReader(source, cache);
    const run = await metricsOf(runId);
    // Shadow runs are judged by the shadow report, not against production's baseline.
    if (!run || run.shadowOf !== undefined) return;
    const alerts = detectAlerts(run, await historyOf(source, run, rules.window, metricsOf), rules);
    for (const raisedAlert of alerts) {
      raised += 1;
      try {
        onAlert?.(raisedAlert);
      } catch {
        // The listener's fault; delivery goes on.
      }
      if (!notifier) continue;
      try {
        await notifier.notify(raisedAlert, {
          signal: AbortSignal.timeout(timerDelay(notifyTimeoutMs)),
        });
        delivered += 1;
      } catch {
        failed += 1;
      }
    }
  }

  return {
    onEvent(runId, event, source) {
      if (event.type !== 'run_finished') return;
      const work = check(runId, source)
        .catch(() => {
          failed += 1;
        })
        .finally(() => pending.delete(work));
      pending.add(work);
    },
    async flush({ timeoutMs = 10_000 } = {}) {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timerDelay(timeoutMs));
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...pending]), expired]);
      clearTimeout(timer);
    },
    stats: () => ({ raised, delivered, failed }),
  };
}

/** The alerts one finished run raises against its agent's runs before it (`[]` if unfinished). */
export async function alertsForRun(
  source: JournalSource,
  runId: string,
  options: { readonly rules?: Partial<AlertRules> | undefined } = {},
): Promise<Alert[]> {
  const rules = resolveAlertRules(options.rules);
  const metricsOf = metricsReader(source, new Map());
  const run = await metricsOf(runId);
  if (!run || run.shadowOf !== undefined) return [];
  return detectAlerts(run, await historyOf(source, run, rules.window, metricsOf), rules);
}

/**
 * The alerts of the most recent finished runs in a store, each judged against the runs of its
 * agent that finished before it: the same verdicts `alertMonitor` reached live, derived again
 * from the journals. Newest first.
 */
export async function scanAlerts(
  source: JournalSource,
  options: {
    readonly rules?: Partial<AlertRules> | undefined;
    readonly since?: number | undefined;
    readonly limit?: number | undefined;
  } = {},
): Promise<Alert[]> {
  const rules = resolveAlertRules(options.rules);
  const records = await source.listRuns({ statuses: TERMINAL, limit: options.limit ?? 1_000 });
  const metricsOf = metricsReader(source, new Map());
  const byAgent = new Map<string, RunMetrics[]>();
  for (const record of records) {
    const metrics = await metricsOf(record.id);
    if (!metrics || metrics.shadowOf !== undefined) continue;
    // Each agent version has its own baseline.
    const key = `${metrics.agent}@${metrics.version ?? ''}`;
    byAgent.set(key, [...(byAgent.get(key) ?? []), metrics]);
  }
  const alerts: Alert[] = [];
  for (const runs of byAgent.values()) {
    runs.sort((a, b) => b.finishedAt - a.finishedAt || b.runId.localeCompare(a.runId));
    runs.forEach((run, index) => {
      if (options.since !== undefined && run.finishedAt < options.since) return;
      alerts.push(...detectAlerts(run, runs.slice(index + 1), rules));
    });
  }
  return alerts.sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
}
