import { afterAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { alertNotification, createRuntime } from '../engine/index.js';
import { foldRun } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { ALERT_KINDS, RUNBOOKS, type Alert } from '../observe/index.js';
import { openStore } from '../store/index.js';
import { formatShow, showJson } from './format.js';
import { alertsJson, formatAlerts } from './trace-format.js';

/* Where people read runbook links: `keel show` and `keel alerts` (text and --json), notifications. */

const store = await openStore('sqlite::memory:');
const runtime = createRuntime({
  store,
  agents: [
    defineAgent({
      name: 'looper',
      instructions: 'Answer.',
      model: simulator({ script: () => ({ text: 'done' }) }),
    }),
  ],
});
afterAll(async () => {
  await runtime.close();
  await store.close();
});

async function shown(runId: string) {
  const record = await store.getRun(runId);
  if (!record) throw new Error(`no run ${runId}`);
  const events = await store.readEvents(runId);
  const state = foldRun(events.map((entry) => entry.event));
  return { json: showJson(record, state, events), text: formatShow(record, state, events) };
}

function alertOf(kind: Alert['kind']): Alert {
  return {
    id: `alert_${kind}`,
    kind,
    runId: 'run_1',
    agent: 'looper',
    at: 0,
    metric: 'steps',
    value: 2,
    threshold: 1,
    baseline: null,
    message: `${kind} happened`,
  };
}

describe('runbook links', () => {
  it('are not shown for a run that answered', async () => {
    const answered = await runtime.run('looper', 'answer');
    expect(answered.status).toBe('succeeded');
    const plain = await shown(answered.id);
    expect(plain.json.state.runbook).toBeNull();
    expect(plain.text).not.toContain('runbook');
  });

  it('are shown by keel show for a run that needs a person', async () => {
    const record = await runtime.submit('looper', 'cancel me');
    await runtime.cancel(record.id);
    const cancelled = await shown(record.id);
    expect(cancelled.json.state.status).toBe('cancelled');
    expect(cancelled.json.state.runbook).toBeNull();

    const stopped = await runtime.run('looper', 'a long task', { limits: { maxTokens: 1 } });
    expect(stopped).toMatchObject({
      status: 'stopped',
      reason: { type: 'limit', limit: 'tokens' },
    });
    const view = await shown(stopped.id);
    expect(view.json.state.runbook).toBe(RUNBOOKS.cost_spike);
    expect(view.text).toContain(`runbook ${RUNBOOKS.cost_spike}`);
  });

  it('are carried by every alert kind in keel alerts, its --json, and notifications', () => {
    const alerts = ALERT_KINDS.map(alertOf);
    const json = alertsJson(alerts);
    const text = formatAlerts(alerts);
    for (const [index, kind] of ALERT_KINDS.entries()) {
      const runbook = json.alerts[index]?.runbook;
      expect({ kind, runbook }).toEqual({
        kind,
        runbook: expect.stringMatching(/^docs\/runbooks\//) as unknown,
      });
      expect(text).toContain(`runbook ${runbook ?? ''}`);
      const notification = alertNotification(alertOf(kind));
      expect(notification.fields).toContainEqual({ label: 'runbook', value: runbook });
      expect(notification.data).toMatchObject({ alert: { runbook } });
    }
  });
});
