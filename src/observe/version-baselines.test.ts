import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent, type Agent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  DEFAULT_ALERT_RULES,
  alertMonitor,
  alertsForRun,
  costTotals,
  scanAlerts,
  type Alert,
} from './index.js';

/** The summarizer at `version`: 5x the usual usage on tasks that say "verbose". */
function summarizer(version: string): Agent {
  return defineAgent({
    name: 'summarizer',
    version,
    model: simulator({
      script: ({ task }) =>
        task.includes('verbose')
          ? { text: 'a long summary', usage: { inputTokens: 1000, outputTokens: 100 } }
          : { text: 'a summary', usage: { inputTokens: 200, outputTokens: 20 } },
    }),
    instructions: 'Summarize the task.',
  });
}

const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** Runs `tasks` on `agent` over `store`, collecting the alerts raised live. */
async function runAll(store: Store, agent: Agent, tasks: readonly string[]) {
  const alerts: Alert[] = [];
  const monitor = alertMonitor({ onAlert: (alert) => alerts.push(alert) });
  let tick = Date.UTC(2026, 0, 1) + (await store.listRuns({ limit: 500 })).length * 1_000;
  const runtime = createRuntime({
    store,
    agents: [agent],
    observers: [monitor],
    clock: { now: () => (tick += 1) },
  });
  const ids: string[] = [];
  for (const task of tasks) {
    ids.push((await runtime.run('summarizer', task)).id);
    await monitor.flush();
  }
  await runtime.close();
  return { alerts, ids };
}

const usual = Array.from(
  { length: DEFAULT_ALERT_RULES.minSamples },
  (_, index) => `summarize report ${index}`,
);

describe('baselines per agent version', () => {
  it('judges a run against earlier runs of its own version', async () => {
    const store = await openStore('sqlite::memory:');
    stores.push(store);
    await runAll(store, summarizer('v1'), usual);
    const { alerts, ids } = await runAll(store, summarizer('v1'), ['summarize this, verbose']);
    expect(alerts.filter((alert) => alert.metric === 'tokens')).toEqual([
      expect.objectContaining({
        runId: ids[0],
        version: 'v1',
        baseline: expect.objectContaining({ n: 5 }),
      }),
    ]);
  });

  it('starts a fresh baseline when the version changes', async () => {
    const store = await openStore('sqlite::memory:');
    stores.push(store);
    await runAll(store, summarizer('v1'), usual);
    // v2 is verbose by nature: v1's runs are not its baseline, so nothing is raised...
    const deployed = await runAll(store, summarizer('v2'), [
      'summarize this, verbose',
      ...Array.from({ length: DEFAULT_ALERT_RULES.minSamples }, (_, i) => `verbose ${i}`),
    ]);
    expect(deployed.alerts).toEqual([]);
    expect(await alertsForRun(store, deployed.ids[0] ?? '')).toEqual([]);
    // ...and once v2 has its own baseline, a usual v1-sized run is within it (no alert), while
    // the scan over the store derives the same verdicts per version.
    const scanned = await scanAlerts(store);
    expect(scanned.filter((alert) => alert.version === 'v2')).toEqual([]);
    expect((await store.getRun(deployed.ids[0] ?? ''))?.version).toBe('v2');
  });

  it('leaves shadow runs out of cost totals unless asked', async () => {
    const store = await openStore('sqlite::memory:');
    stores.push(store);
    const { ids } = await runAll(store, summarizer('v1'), ['summarize report 0']);
    const entries = await store.readEvents(ids[0] ?? '');
    const shadowEntries = entries.map((entry, index) =>
      index === 0 && entry.event.type === 'run_started'
        ? { ...entry, event: { ...entry.event, shadowOf: ids[0] } }
        : entry,
    );
    const runs = [
      { runId: 'production', entries },
      { runId: 'shadow', entries: shadowEntries },
    ];
    expect(costTotals(runs).runs).toBe(1);
    expect(costTotals(runs, { shadows: true }).runs).toBe(2);
    expect(costTotals(runs, { shadows: true }).total.costUsd).toBeCloseTo(
      2 * costTotals(runs).total.costUsd,
    );
  });
});
