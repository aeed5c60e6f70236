import type { CostLine } from '../../observe/index.js';
import { clip, count, duration, usd } from './format.js';
import { Empty, Layout } from './layout.js';
import type { BaselineRow, CostsView } from './costs-view.js';
import type { Viewer } from './viewer.js';

export const COST_WINDOWS = [1, 7, 30, 90] as const;

/** The window a page of figures covers: the last 1, 7, 30 or 90 days. */
export function WindowForm({ action, days }: { action: string; days: number }) {
  return (
    <form class="filters inline" method="get" action={action}>
      <label>
        Window
        <select name="days">
          {COST_WINDOWS.map((option) => (
            <option value={String(option)} selected={option === days}>
              last {option} day{option === 1 ? '' : 's'}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Show</button>
    </form>
  );
}

/** `/costs`: cost and tokens per day, agent and model as bar charts; baselines against now. */
export function CostsPage({ viewer, view }: { viewer: Viewer; view: CostsView }) {
  const { totals } = view;
  return (
    <Layout title="Costs" viewer={viewer} section="costs">
      <h1>Costs and baselines</h1>
      <WindowForm action="/costs" days={view.days} />
      <p class="hint">
        {count(view.runs)} run{view.runs === 1 ? '' : 's'}
        {view.capped ? ` (the newest; the window holds more)` : ''}: {usd(totals.total.costUsd)},{' '}
        {count(totals.total.inputTokens)} tokens in and {count(totals.total.outputTokens)} out over{' '}
        {count(totals.total.modelCalls)} model calls
        {totals.total.unpricedCalls > 0
          ? `; ${count(totals.total.unpricedCalls)} calls had no known price and are not in the cost`
          : ''}
        . Costs are the journal's own figures, priced when each call was made.
      </p>
      {totals.total.modelCalls === 0 ? (
        <Empty>No model calls in this window.</Empty>
      ) : (
        <div class="charts">
          <Chart title="Cost per day (UTC)" rows={totals.byDay} value="cost" />
          <Chart title="Tokens per day (UTC)" rows={totals.byDay} value="tokens" />
          <Chart title="Cost per agent" rows={totals.byAgent} value="cost" />
          <Chart title="Tokens per agent" rows={totals.byAgent} value="tokens" />
          <Chart title="Cost per model" rows={totals.byModel} value="cost" />
          <Chart title="Tokens per model" rows={totals.byModel} value="tokens" />
        </div>
      )}
      <h2>Baselines against the latest run</h2>
      <p class="hint">
        Each agent's latest finished run against the 50 finished runs before it (the figures its
        alerts are judged by).
      </p>
      {view.baselines.length === 0 ? (
        <Empty>No agent has a finished run with earlier ones to compare.</Empty>
      ) : (
        <Baselines rows={view.baselines} />
      )}
    </Layout>
  );
}

const CHART_WIDTH = 240;

function Chart({
  title,
  rows,
  value,
}: {
  title: string;
  rows: readonly CostLine[];
  value: 'cost' | 'tokens';
}) {
  const of = (row: CostLine): number =>
    value === 'cost' ? row.costUsd : row.inputTokens + row.outputTokens;
  const max = Math.max(0, ...rows.map(of));
  return (
    <figure class="chart" data-chart={title}>
      <figcaption>{title}</figcaption>
      <table>
        <tbody>
          {rows.map((row) => {
            const width = max > 0 ? Math.max(1, Math.round((of(row) / max) * CHART_WIDTH)) : 0;
            return (
              <tr>
                <th>{clip(row.key, 40)}</th>
                <td>
                  <svg
                    width={String(CHART_WIDTH)}
                    height="12"
                    role="img"
                    aria-label={String(of(row))}
                  >
                    <rect class={`bar-${value}`} x="0" y="1" width={String(width)} height="10" />
                  </svg>
                </td>
                <td class="num">
                  {value === 'cost'
                    ? usd(row.costUsd)
                    : `${count(row.inputTokens)} / ${count(row.outputTokens)}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </figure>
  );
}

function Baselines({ rows }: { rows: readonly BaselineRow[] }) {
  const show = (row: BaselineRow, value: number): string =>
    row.metric === 'costUsd'
      ? usd(value)
      : row.metric === 'durationMs'
        ? duration(value)
        : row.metric === 'toolErrorRate'
          ? `${Math.round(value * 100)}%`
          : count(Math.round(value));
  return (
    <table class="baselines">
      <thead>
        <tr>
          <th>Agent</th>
          <th>Metric</th>
          <th class="num">p50</th>
          <th class="num">p95</th>
          <th class="num">Runs</th>
          <th class="num">Latest</th>
          <th class="num">Latest / p50</th>
          <th>Latest run</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const ratio =
            row.latest === null || row.baseline.p50 === 0
              ? undefined
              : row.latest / row.baseline.p50;
          return (
            <tr>
              <td>{row.agent}</td>
              <td>{row.metric}</td>
              <td class="num">{show(row, row.baseline.p50)}</td>
              <td class="num">{show(row, row.baseline.p95)}</td>
              <td class="num">{row.baseline.n}</td>
              <td class="num">{row.latest === null ? 'unknown' : show(row, row.latest)}</td>
              <td class={ratio !== undefined && ratio > 3 ? 'num hot' : 'num'}>
                {ratio === undefined ? '' : `${ratio.toFixed(2)}×`}
              </td>
              <td>
                <a href={`/runs/${encodeURIComponent(row.latestRunId)}`}>
                  <code>{row.latestRunId}</code>
                </a>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
