import {
  BASELINE_METRICS,
  agentBaselines,
  costTotals,
  runMetrics,
  type Baseline,
  type BaselineMetric,
  type CostTotals,
} from '../../observe/index.js';
import type { Store } from '../../store/index.js';

/** The events cost totals and run metrics read: the rest of each journal is left unread. */
const FIGURE_EVENTS = [
  'run_started',
  'model_called',
  'tool_requested',
  'tool_finished',
  'tool_failed',
  'tool_rejected',
  'action_flagged',
  'run_finished',
];
const TERMINAL = ['succeeded', 'failed', 'stopped', 'escalated', 'cancelled'] as const;
/** Runs read at most for the totals: the newest ones in the window. */
export const COST_SCAN_LIMIT = 2_000;
/** Earlier runs a baseline is made of (as the alert rules' default window). */
const BASELINE_WINDOW = 50;

export interface BaselineRow {
  readonly agent: string;
  readonly metric: BaselineMetric;
  readonly baseline: Baseline;
  /** The agent's latest finished run and its figure. */
  readonly latestRunId: string;
  readonly latest: number | null;
}

export interface CostsView {
  readonly days: number;
  readonly runs: number;
  /** True when the window held more runs than were read. */
  readonly capped: boolean;
  readonly totals: CostTotals;
  readonly baselines: readonly BaselineRow[];
}

/**
 * Tokens and cost per agent, model and day over the window's runs (the journals' own figures),
 * and each agent's latest finished run against the baseline of the runs before it.
 */
export async function costsView({
  store,
  visibleAgents,
  agentNames,
  days,
  now,
}: {
  store: Store;
  visibleAgents: readonly string[] | undefined;
  /** Agents whose baselines to show. */
  agentNames: readonly string[];
  days: number;
  now: number;
}): Promise<CostsView> {
  const ids: string[] = [];
  let after: { createdAt: number; id: string } | undefined;
  let capped = false;
  for (;;) {
    const page = await store.browse.list({
      visibleAgents,
      createdFrom: now - days * 86_400_000,
      after,
      limit: 500,
    });
    ids.push(...page.items.map((item) => item.run.id));
    if (!page.next) break;
    if (ids.length >= COST_SCAN_LIMIT) {
      capped = true;
      break;
    }
    after = page.next;
  }
  const journals = await store.browse.readJournals(ids, { types: FIGURE_EVENTS });
  const totals = costTotals(ids.map((runId) => ({ runId, entries: journals.get(runId) ?? [] })));

  const baselines: BaselineRow[] = [];
  for (const agent of agentNames) {
    const finished = await store.browse.list({
      visibleAgents,
      agent,
      statuses: [...TERMINAL],
      limit: BASELINE_WINDOW + 1,
    });
    const runIds = finished.items.map((item) => item.run.id);
    const agentJournals = await store.browse.readJournals(runIds, { types: FIGURE_EVENTS });
    const metrics = runIds.flatMap(
      (runId) => runMetrics(runId, agentJournals.get(runId) ?? []) ?? [],
    );
    const [latest, ...history] = metrics;
    if (!latest) continue;
    const agentBaseline = agentBaselines(history);
    for (const metric of BASELINE_METRICS) {
      const baseline = agentBaseline[metric];
      if (!baseline) continue;
      baselines.push({
        agent,
        metric,
        baseline,
        latestRunId: latest.runId,
        latest: latest[metric],
      });
    }
  }
  return { days, runs: ids.length, capped, totals, baselines };
}
