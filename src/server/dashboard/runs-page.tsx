import { RUN_RECORD_STATUSES, type RunListPage } from '../../store/index.js';
import { clip, count, reasonText, usd, when } from './format.js';
import { Empty, Layout, StatusBadge } from './layout.js';
import { REASON_TYPES, filterHref, type RunFilters } from './run-filters.js';
import type { Viewer } from './viewer.js';

/** `/`: the runs the viewer may see, filtered, searched and paged (newest first). */
export function RunsPage({
  viewer,
  filters,
  page,
  agents,
}: {
  viewer: Viewer;
  filters: RunFilters;
  page: RunListPage;
  /** Agent names offered in the filter. */
  agents: readonly string[];
}) {
  const filtered = Object.entries(filters).some(
    ([key, value]) => key !== 'after' && value !== undefined,
  );
  return (
    <Layout title="Runs" viewer={viewer} section="runs">
      <h1>Runs</h1>
      <form class="filters" method="get" action="/" role="search">
        <label>
          Search tasks and outputs
          <input type="search" name="q" value={filters.q ?? ''} placeholder="words…" />
        </label>
        <AnyOf label="Agent" name="agent" options={agents} selected={filters.agent} />
        <AnyOf
          label="Status"
          name="status"
          options={RUN_RECORD_STATUSES}
          selected={filters.status}
        />
        <AnyOf label="Reason" name="reason" options={REASON_TYPES} selected={filters.reason} />
        <label>
          From (UTC)
          <input type="date" name="from" value={filters.from ?? ''} />
        </label>
        <label>
          To (UTC)
          <input type="date" name="to" value={filters.to ?? ''} />
        </label>
        <label>
          Cost above ($)
          <input
            type="number"
            name="cost"
            min="0"
            step="any"
            value={filters.cost === undefined ? '' : String(filters.cost)}
          />
        </label>
        <label>
          Approvals
          <select name="approvals">
            <option value="">any</option>
            <option value="with" selected={filters.approvals === 'with'}>
              with approvals
            </option>
            <option value="without" selected={filters.approvals === 'without'}>
              without
            </option>
          </select>
        </label>
        <div class="actions">
          <button type="submit">Filter</button>
          {filtered ? <a href="/">Clear</a> : null}
        </div>
      </form>
      {page.items.length === 0 ? (
        <Empty>{filtered ? 'No run matches these filters.' : 'No runs yet.'}</Empty>
      ) : (
        <table class="runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Agent</th>
              <th>Status</th>
              <th>Task</th>
              <th class="num">Cost</th>
              <th class="num">Tokens</th>
              <th class="num">Steps</th>
              <th>Approvals</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map(({ run, approvals, pendingApprovals }) => (
              <tr data-run-id={run.id}>
                <td>
                  <a href={`/runs/${encodeURIComponent(run.id)}`}>
                    <code>{run.id}</code>
                  </a>
                  {run.shadowOf === null ? null : (
                    <div class="shadow-of">
                      shadow of{' '}
                      <a href={`/runs/${encodeURIComponent(run.shadowOf)}`}>
                        <code>{run.shadowOf}</code>
                      </a>
                    </div>
                  )}
                </td>
                <td>
                  <span class="agent">{run.agent}</span>
                  {run.version === null ? null : (
                    <div class="version">
                      <code>{run.version}</code>
                    </div>
                  )}
                </td>
                <td>
                  <StatusBadge status={run.status} />
                  {run.reason === null ? null : (
                    <div class="reason">{clip(reasonText(run.reason), 80)}</div>
                  )}
                </td>
                <td class="task">{clip(run.task, 100)}</td>
                {/* A run's totals are written when it finishes. */}
                <td class="num">{run.finishedAt === null ? '—' : usd(run.costUsd)}</td>
                <td class="num">
                  {run.finishedAt === null ? '—' : count(run.inputTokens + run.outputTokens)}
                </td>
                <td class="num">{run.finishedAt === null ? '—' : run.steps}</td>
                <td>
                  {approvals === 0
                    ? ''
                    : pendingApprovals > 0
                      ? `${pendingApprovals} pending of ${approvals}`
                      : String(approvals)}
                </td>
                <td>{when(run.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pages">
        {filters.after === undefined ? null : <a href={filterHref(filters)}>First page</a>}
        {page.next ? (
          <a rel="next" href={filterHref(filters, page.next)}>
            Next page
          </a>
        ) : null}
      </nav>
    </Layout>
  );
}

/** A filter that is one of `options`, or `any` (no filter). */
function AnyOf({
  label,
  name,
  options,
  selected,
}: {
  label: string;
  name: string;
  options: readonly string[];
  selected: string | undefined;
}) {
  return (
    <label>
      {label}
      <select name={name}>
        <option value="">any</option>
        {options.map((option) => (
          <option value={option} selected={option === selected}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}
