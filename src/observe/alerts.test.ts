import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore } from '../store/index.js';
import {
  ATTR,
  DEFAULT_ALERT_RULES,
  KEEL_EVENT,
  alertMonitor,
  alertsForRun,
  detectAlerts,
  resolveAlertRules,
  scanAlerts,
  spansFromJournal,
  withAlerts,
  type Alert,
  type AlertNotifier,
  type RunMetrics,
} from './index.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A local HTTP receiver standing in for a webhook endpoint. */
async function webhookReceiver() {
  const received: Alert[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    request.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Alert);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const notifier: AlertNotifier = {
    async notify(alert, { signal }) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal,
      });
      if (!response.ok) throw new Error(`webhook answered ${response.status}`);
    },
  };
  return { received, notifier };
}

/** An agent whose reported usage is 5x larger on tasks that say "verbose". */
async function meteredRuntime(notifier: AlertNotifier) {
  const store = await openStore('sqlite::memory:');
  const agent = defineAgent({
    name: 'summarizer',
    model: simulator({
      script: ({ task }) =>
        task.includes('verbose')
          ? { text: 'a long summary', usage: { inputTokens: 1000, outputTokens: 100 } }
          : { text: 'a summary', usage: { inputTokens: 200, outputTokens: 20 } },
    }),
    instructions: 'Summarize the task.',
  });
  const alerts: Alert[] = [];
  const monitor = alertMonitor({ notifier, onAlert: (alert) => alerts.push(alert) });
  // A clock that ticks 1 ms per reading: identical runs take identical time, so a busy machine
  // cannot make one look slow against its baseline.
  let tick = Date.UTC(2026, 0, 1);
  const clock = { now: () => (tick += 1) };
  const runtime = createRuntime({ store, agents: [agent], observers: [monitor], clock });
  cleanups.push(async () => {
    await runtime.close();
    await store.close();
  });
  return { store, runtime, monitor, alerts };
}

describe('alertMonitor', () => {
  it('raises a baseline alert for a run with 5x the usual tokens and delivers it', async () => {
    const { received, notifier } = await webhookReceiver();
    const { store, runtime, monitor, alerts } = await meteredRuntime(notifier);
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
      await monitor.flush();
    }
    expect(alerts).toEqual([]);
    const spike = await runtime.run('summarizer', 'summarize this, verbose');
    await monitor.flush();

    const tokenAlert = alerts.find((alert) => alert.metric === 'tokens');
    expect(tokenAlert).toMatchObject({
      kind: 'baseline_exceeded',
      runId: spike.id,
      agent: 'summarizer',
      value: 1100,
      threshold: 660,
      baseline: { n: 5, p50: 220, p95: 220 },
    });
    expect(received.map((alert) => alert.id)).toEqual(alerts.map((alert) => alert.id));
    expect(received.find((alert) => alert.metric === 'tokens')).toEqual(tokenAlert);
    expect(monitor.stats()).toEqual({ raised: alerts.length, delivered: alerts.length, failed: 0 });

    // The same verdicts, derived again from the journals, and shown on the run's trace.
    expect(await alertsForRun(store, spike.id)).toEqual(alerts);
    const spans = withAlerts(spansFromJournal(spike.id, await store.readEvents(spike.id)), alerts);
    expect(
      spans[0]?.events
        .filter((event) => event.name === KEEL_EVENT.alert)
        .map((event) => event.attributes[ATTR.alertMetric]),
    ).toEqual(alerts.map((alert) => alert.metric));
    const scanned = await scanAlerts(store);
    expect(scanned.map((alert) => alert.id).sort()).toEqual(alerts.map((alert) => alert.id).sort());
  });

  it('delivers through the runtime option as well', async () => {
    const { received, notifier } = await webhookReceiver();
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'summarizer',
      model: simulator({
        script: ({ task }) => ({
          text: 'summary',
          usage: task.includes('verbose')
            ? { inputTokens: 1000, outputTokens: 100 }
            : { inputTokens: 200, outputTokens: 20 },
        }),
      }),
      instructions: 'Summarize the task.',
    });
    const runtime = createRuntime({ store, agents: [agent], alerts: { notifier } });
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
    }
    const spike = await runtime.run('summarizer', 'summarize this, verbose');
    await runtime.close();
    await store.close();
    expect(received.filter((alert) => alert.metric === 'tokens')).toEqual([
      expect.objectContaining({ kind: 'baseline_exceeded', runId: spike.id, value: 1100 }),
    ]);
  });

  it('stays quiet for a run within its baseline', async () => {
    const { received, notifier } = await webhookReceiver();
    const { runtime, monitor, alerts } = await meteredRuntime(notifier);
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples + 1; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
    }
    await monitor.flush();
    expect(alerts).toEqual([]);
    expect(received).toEqual([]);
  });

  it('raises no baseline alert before the minimum sample size', async () => {
    const { notifier } = await webhookReceiver();
    const { runtime, monitor, alerts } = await meteredRuntime(notifier);
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples - 1; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
    }
    await runtime.run('summarizer', 'summarize this, verbose');
    await monitor.flush();
    expect(alerts).toEqual([]);
  });

  it('counts a failed delivery and never fails the run', async () => {
    const failing: AlertNotifier = { notify: () => Promise.reject(new Error('endpoint down')) };
    const { runtime, monitor } = await meteredRuntime(failing);
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
    }
    const spike = await runtime.run('summarizer', 'summarize this, verbose');
    await monitor.flush();
    expect(spike.status).toBe('succeeded');
    expect(monitor.stats().raised).toBeGreaterThan(0);
    expect(monitor.stats()).toMatchObject({ delivered: 0, failed: monitor.stats().raised });
  });
});

function metrics(overrides: Partial<RunMetrics> = {}): RunMetrics {
  return {
    runId: 'run_x',
    agent: 'agent',
    status: 'succeeded',
    finishedAt: 1_000,
    tokens: 100,
    outputTokens: 10,
    costUsd: 0.001,
    durationMs: 1_000,
    iterations: 2,
    toolCalls: 2,
    toolErrors: 0,
    toolErrorRate: 0,
    maxCallOutputTokens: 10,
    maxIdenticalToolCalls: 1,
    maxConsecutiveToolErrors: 0,
    ...overrides,
  };
}

describe('detectAlerts', () => {
  const history = Array.from({ length: 10 }, (_, index) =>
    metrics({ runId: `run_${index}`, tokens: 90 + index * 2, finishedAt: 900 - index }),
  );

  it('flags repeated identical tool calls and tool-error bursts, and only at their thresholds', () => {
    const kinds = (run: RunMetrics) => detectAlerts(run, history).map((alert) => alert.kind);
    expect(kinds(metrics({ maxIdenticalToolCalls: 3 }))).toEqual(['repeated_tool_call']);
    expect(kinds(metrics({ maxIdenticalToolCalls: 2 }))).toEqual([]);
    expect(kinds(metrics({ maxConsecutiveToolErrors: 3 }))).toEqual(['tool_error_burst']);
    expect(kinds(metrics({ maxConsecutiveToolErrors: 2 }))).toEqual([]);
  });

  it('flags a single call with an output far above the usual', () => {
    const spiked = detectAlerts(metrics({ maxCallOutputTokens: 51 }), history);
    expect(spiked.map((alert) => [alert.kind, alert.threshold])).toEqual([
      ['output_token_spike', 50],
    ]);
    expect(detectAlerts(metrics({ maxCallOutputTokens: 50 }), history)).toEqual([]);
  });

  it('uses a z-score when configured, alone or with a ratio', () => {
    const rules = resolveAlertRules({ thresholds: { tokens: { zScore: 3 } } });
    // mean 99, population stddev ~5.74: the z-score limit is ~116.2, far below 3x p50.
    const [alert] = detectAlerts(metrics({ tokens: 120 }), history, rules);
    expect(alert?.kind).toBe('baseline_exceeded');
    expect(alert?.threshold).toBeCloseTo(99 + 3 * Math.sqrt(33), 6);
    expect(detectAlerts(metrics({ tokens: 115 }), history, rules)).toEqual([]);
  });

  it('ignores an error rate under its floor even when it is above the ratio', () => {
    expect(detectAlerts(metrics({ toolErrorRate: 0.2 }), history)).toEqual([]);
    expect(detectAlerts(metrics({ toolErrorRate: 0.5 }), history).map((a) => a.metric)).toEqual([
      'toolErrorRate',
    ]);
  });

  it('refuses bad rules naming the field', () => {
    expect(() => resolveAlertRules({ minSamples: 0 })).toThrow(/minSamples/);
    expect(() => resolveAlertRules({ thresholds: { tokens: { ratio: -1 } } })).toThrow(
      /thresholds\.tokens\.ratio/,
    );
  });
});
