import type { Alert } from '../../observe/index.js';
import { count, when } from './format.js';
import { Empty, Layout } from './layout.js';
import { WindowForm } from './costs-page.js';
import type { Viewer } from './viewer.js';

/** `/alerts`: runs that drifted from their agent's baseline or misbehaved, newest first. */
export function AlertsPage({
  viewer,
  alerts,
  days,
  scanned,
}: {
  viewer: Viewer;
  alerts: readonly Alert[];
  days: number;
  scanned: number;
}) {
  return (
    <Layout title="Alerts" viewer={viewer} section="alerts">
      <h1>Alerts</h1>
      <WindowForm action="/alerts" days={days} />
      <p class="hint">
        Derived from the journals of the newest {count(scanned)} finished runs: a figure far above
        its agent's baseline, repeated identical calls, bursts of tool errors, output spikes and
        calls the output monitor flagged.
      </p>
      {alerts.length === 0 ? (
        <Empty>No alerts in this window.</Empty>
      ) : (
        <table class="alerts">
          <thead>
            <tr>
              <th>When</th>
              <th>Kind</th>
              <th>Agent</th>
              <th>Run</th>
              <th>Metric</th>
              <th class="num">Value</th>
              <th class="num">Threshold</th>
              <th>What</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((alert) => (
              <tr data-alert={alert.kind}>
                <td>{when(alert.at)}</td>
                <td>
                  <span class="badge tone-warn">{alert.kind}</span>
                </td>
                <td>{alert.agent}</td>
                <td>
                  <a href={`/runs/${encodeURIComponent(alert.runId)}`}>
                    <code>{alert.runId}</code>
                  </a>
                </td>
                <td>{alert.metric}</td>
                <td class="num">
                  {Number.isInteger(alert.value) ? alert.value : alert.value.toPrecision(4)}
                </td>
                <td class="num">
                  {Number.isInteger(alert.threshold)
                    ? alert.threshold
                    : alert.threshold.toPrecision(4)}
                </td>
                <td>{alert.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}
