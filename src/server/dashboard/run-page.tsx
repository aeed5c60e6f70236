import type { MessagePart } from '../../model/index.js';
import type { ReplayReport } from '../../engine/index.js';
import type { ApprovalRecord, RunPrice, RunRecord, StoredEvent } from '../../store/index.js';
import {
  clip,
  count,
  describeModel,
  duration,
  prettyJson,
  reasonText,
  usd,
  when,
} from './format.js';
import { Empty, Layout, StatusBadge, TrustBadge } from './layout.js';
import {
  spanUsage,
  type CallMark,
  type LimitUse,
  type RunView,
  type WaterfallRow,
} from './run-view.js';
import type { Viewer } from './viewer.js';

export interface RunPageProps {
  readonly viewer: Viewer;
  readonly record: RunRecord;
  readonly entries: readonly StoredEvent[];
  readonly view: RunView;
  readonly approvals: readonly ApprovalRecord[];
  readonly price: RunPrice | undefined;
  /** The agent's current instructions, when it is loaded here. */
  readonly instructions: string | undefined;
  /** Why replay and fork cannot be offered here, if they cannot. */
  readonly actionsUnavailable: string | undefined;
  /** The store's URL (without credentials), for the CLI commands shown. */
  readonly storeUrl: string;
  readonly replay?: ReplayReport | undefined;
  readonly notice?: string | undefined;
}

/** `/runs/:id`: a run's outcome, limits, conversation, trace, journal, replay and fork. */
export function RunPage(props: RunPageProps) {
  const { record, view, viewer } = props;
  const started = view.state.started ? view.state : undefined;
  const firstEvent = props.entries
    .map((entry) => entry.event)
    .find((event) => event.type === 'run_started');
  const forkOf = firstEvent?.type === 'run_started' ? firstEvent.forkOf : undefined;
  return (
    <Layout
      title={`Run ${record.id}`}
      viewer={viewer}
      section="runs"
      live={record.finishedAt === null}
    >
      <p class="crumbs">
        <a href="/">Runs</a> / <code>{record.id}</code>
      </p>
      <h1>
        Run <code>{record.id}</code> <StatusBadge status={record.status} />
      </h1>
      {props.notice ? <p class="notice">{props.notice}</p> : null}
      {record.finishedAt === null ? <LiveRun runId={record.id} /> : null}
      <dl class="facts">
        <dt>Agent</dt>
        <dd>{record.agent}</dd>
        <dt>Version</dt>
        <dd class="version">
          {record.version === null ? 'unrecorded' : <code>{record.version}</code>}
        </dd>
        {record.shadowOf === null ? null : (
          <>
            <dt>Shadow of</dt>
            <dd class="shadow-of">
              <a href={`/runs/${encodeURIComponent(record.shadowOf)}`}>
                <code>{record.shadowOf}</code>
              </a>{' '}
              (a candidate's shadow run: no side effect executed)
            </dd>
          </>
        )}
        <dt>Reason</dt>
        <dd>
          {record.reason === null
            ? record.status === 'waiting'
              ? 'waiting for an approval'
              : 'not finished'
            : reasonText(record.reason)}
        </dd>
        <dt>Model</dt>
        <dd>{started ? describeModel(started.model) : 'unknown'}</dd>
        <dt>Task</dt>
        <dd>
          <pre class="text">{record.task}</pre>
        </dd>
        {record.output === null ? null : (
          <>
            <dt>Output</dt>
            <dd>
              <pre class="text output">{record.output}</pre>
            </dd>
          </>
        )}
        <dt>Cost</dt>
        <dd>
          {usd(view.state.usage.costUsd)}
          {view.state.usage.costKnown ? '' : ' (some calls had no known price)'}
          {props.price
            ? ` · re-priced ${usd(props.price.costUsd)} on ${when(props.price.pricedAt)}`
            : ''}
        </dd>
        <dt>Tokens</dt>
        <dd>
          {count(view.state.usage.inputTokens)} in · {count(view.state.usage.outputTokens)} out
        </dd>
        <dt>Created</dt>
        <dd>{when(record.createdAt)}</dd>
        <dt>Finished</dt>
        <dd>{when(record.finishedAt)}</dd>
        <dt>Claims</dt>
        <dd>{record.claims}</dd>
        {forkOf ? (
          <>
            <dt>Fork of</dt>
            <dd>
              <a href={`/runs/${encodeURIComponent(forkOf.runId)}`}>
                <code>{forkOf.runId}</code>
              </a>{' '}
              from step {String(forkOf.step)}
            </dd>
          </>
        ) : null}
      </dl>

      <section>
        <h2>Limits</h2>
        {view.limits.length === 0 ? (
          <Empty>No limits recorded.</Empty>
        ) : (
          <Limits limits={view.limits} />
        )}
      </section>

      {props.approvals.length === 0 ? null : (
        <section>
          <h2>Approvals</h2>
          <table>
            <thead>
              <tr>
                <th>Approval</th>
                <th>Tool</th>
                <th>Group</th>
                <th>State</th>
                <th>Arguments hash</th>
                <th>Decided by</th>
              </tr>
            </thead>
            <tbody>
              {props.approvals.map((approval) => (
                <tr>
                  <td>
                    <a href={`/queue#${approval.id}`}>
                      <code>{approval.id}</code>
                    </a>
                  </td>
                  <td>{approval.toolName}</td>
                  <td>{approval.approverGroup}</td>
                  <td>
                    <StatusBadge status={approval.state} />
                  </td>
                  <td>
                    <code>{approval.argsHash}</code>
                  </td>
                  <td>{approval.decidedBy ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      <section>
        <h2>Conversation</h2>
        <Conversation view={view} instructions={props.instructions} />
      </section>

      <section>
        <h2>Trace</h2>
        <p class="hint">
          Spans derived from the journal; open one for its attributes and events. Whole run{' '}
          {duration(view.totalMs)}.
        </p>
        <Waterfall rows={view.waterfall} />
      </section>

      <section>
        <h2>Journal</h2>
        <details class="journal">
          <summary>Raw journal · {props.entries.length} events</summary>
          <ol>
            {props.entries.map((entry) => (
              <li>
                <details>
                  <summary>
                    <code>#{entry.seq}</code> {entry.event.type}{' '}
                    <span class="muted">{when(entry.at)}</span>
                  </summary>
                  <pre>{prettyJson(entry.event)}</pre>
                </details>
              </li>
            ))}
          </ol>
        </details>
      </section>

      <ReplayAndFork {...props} />
    </Layout>
  );
}

function Limits({ limits }: { limits: readonly LimitUse[] }) {
  const show = (limit: LimitUse, value: number): string =>
    limit.unit === 'usd' ? usd(value) : limit.unit === 'ms' ? duration(value) : count(value);
  return (
    <table class="limits">
      <thead>
        <tr>
          <th>Limit</th>
          <th class="num">Used</th>
          <th class="num">Max</th>
          <th>Share</th>
        </tr>
      </thead>
      <tbody>
        {limits.map((limit) => {
          const share = limit.max > 0 ? Math.min(1, limit.used / limit.max) : 0;
          return (
            <tr data-limit={limit.name}>
              <td>{limit.name}</td>
              <td class="num">{show(limit, limit.used)}</td>
              <td class="num">{show(limit, limit.max)}</td>
              <td>
                <svg
                  class="meter"
                  width="160"
                  height="10"
                  role="img"
                  aria-label={`${Math.round(share * 100)}%`}
                >
                  <rect class="meter-track" x="0" y="0" width="160" height="10" />
                  <rect
                    class={
                      share >= 1
                        ? 'meter-fill full'
                        : share >= 0.8
                          ? 'meter-fill high'
                          : 'meter-fill'
                    }
                    x="0"
                    y="0"
                    width={String(Math.round(share * 160))}
                    height="10"
                  />
                </svg>{' '}
                {Math.round(share * 100)}%
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Conversation({ view, instructions }: { view: RunView; instructions: string | undefined }) {
  return (
    <ol class="chat">
      {instructions === undefined ? null : (
        <li class="msg system">
          <header>
            system <span class="muted">(the agent's current instructions)</span>{' '}
            <TrustBadge trust="trusted" source="agent" />
          </header>
          <pre class="text">{instructions}</pre>
        </li>
      )}
      {view.state.messages.map((message) => (
        <li class={`msg ${message.role}`}>
          <header>{message.role}</header>
          {message.parts.map((part) => (
            <Part part={part} marks={markOf(view, part)} />
          ))}
        </li>
      ))}
    </ol>
  );
}

function markOf(view: RunView, part: MessagePart): readonly CallMark[] {
  if (part.type === 'text') return [];
  const on = part.type === 'tool_call' ? 'call' : 'result';
  return (view.marks.get(part.callId) ?? []).filter((mark) => mark.on === on);
}

function Part({ part, marks }: { part: MessagePart; marks: readonly CallMark[] }) {
  const badges = marks.map((mark) => <span class={`badge tone-${mark.tone}`}>{mark.text}</span>);
  switch (part.type) {
    case 'text':
      return (
        <div class="part">
          <TrustBadge trust={part.provenance.trust} source={part.provenance.source} />
          <pre class="text">{part.text}</pre>
        </div>
      );
    case 'tool_call':
      return (
        <div class="part call">
          <div>
            calls <code>{part.toolName}</code>{' '}
            <TrustBadge trust={part.provenance.trust} source={part.provenance.source} /> {badges}
          </div>
          <pre>{prettyArguments(part.arguments)}</pre>
        </div>
      );
    case 'tool_result':
      return (
        <div class={part.isError ? 'part result error' : 'part result'}>
          <div>
            {part.isError ? 'error from ' : 'result of '}
            <code>{part.toolName}</code>{' '}
            <TrustBadge trust={part.provenance.trust} source={part.provenance.source} /> {badges}
          </div>
          <pre>{part.content}</pre>
        </div>
      );
    default:
      part satisfies never;
      return null;
  }
}

function prettyArguments(text: string): string {
  try {
    return prettyJson(JSON.parse(text) as unknown);
  } catch {
    return text;
  }
}

function Waterfall({ rows }: { rows: readonly WaterfallRow[] }) {
  if (rows.length === 0) return <Empty>No spans.</Empty>;
  return (
    <div class="waterfall">
      <div class="wf-row wf-head">
        <span>Span</span>
        <span>Timeline</span>
        <span class="num">Duration</span>
        <span class="num">Tokens in / out</span>
        <span class="num">Cost</span>
      </div>
      {rows.map(({ span, depth, left, width }) => {
        const usage = spanUsage(span);
        return (
          <details class="span" data-span={span.name} data-kind={span.kind}>
            <summary class="wf-row">
              <span class={`wf-name depth-${Math.min(depth, 4)}`}>
                {span.status.code === 'error' ? <span class="badge tone-bad">error</span> : null}{' '}
                {span.name}
              </span>
              <svg
                class="wf-bar"
                width="100%"
                height="12"
                role="img"
                aria-label={duration(span.endMs - span.startMs)}
              >
                <rect
                  class={`bar-${span.status.code === 'error' ? 'error' : span.kind}`}
                  x={`${left}%`}
                  y="1"
                  width={`${width}%`}
                  height="10"
                />
              </svg>
              <span class="num">{duration(span.endMs - span.startMs)}</span>
              <span class="num">
                {usage.input === undefined
                  ? ''
                  : `${count(usage.input)} / ${count(usage.output ?? 0)}`}
              </span>
              <span class="num">{usage.cost === undefined ? '' : usd(usage.cost)}</span>
            </summary>
            <div class="span-body">
              <table class="attrs">
                <tbody>
                  {Object.entries(span.attributes).map(([key, value]) => (
                    <tr>
                      <th>{key}</th>
                      <td>
                        <pre>{typeof value === 'string' ? value : JSON.stringify(value)}</pre>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {span.events.length === 0 ? null : (
                <ul class="events">
                  {span.events.map((event) => (
                    <li>
                      <code>{event.name}</code> <span class="muted">{when(event.timeMs)}</span>{' '}
                      {Object.entries(event.attributes)
                        .map(
                          ([key, value]) =>
                            `${key.replace(/^keel\./, '')}=${clip(String(value), 200)}`,
                        )
                        .join(' ')}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </details>
        );
      })}
    </div>
  );
}

function ReplayAndFork(props: RunPageProps) {
  const { record, viewer } = props;
  const store = `--store ${props.storeUrl}`;
  const lastStep = Math.max(0, props.view.state.steps - 1);
  return (
    <section id="replay">
      <h2>Replay and fork</h2>
      <p>
        Replay re-executes the run with the current code, every model reply and tool result served
        from its journal (nothing runs for real). A fork starts a new run that reuses the journal
        before a step and runs live from there.
      </p>
      <ul class="commands">
        <li>
          <code>{`keel ${store} replay ${record.id}`}</code>
        </li>
        <li>
          <code>{`keel ${store} fork ${record.id} --from-step ${lastStep}`}</code>
        </li>
      </ul>
      {!viewer.canAct ? (
        <p class="muted">Replay and fork need an approver or admin token.</p>
      ) : props.actionsUnavailable ? (
        <p class="muted">{props.actionsUnavailable}</p>
      ) : (
        <div class="buttons">
          <form method="post" action={`/runs/${encodeURIComponent(record.id)}/replay`}>
            <input type="hidden" name="_csrf" value={viewer.csrf} />
            <button type="submit">Replay</button>
          </form>
          <form method="post" action={`/runs/${encodeURIComponent(record.id)}/fork`}>
            <input type="hidden" name="_csrf" value={viewer.csrf} />
            <label>
              from step{' '}
              <input
                type="number"
                name="fromStep"
                min="0"
                max={String(lastStep)}
                value={String(lastStep)}
                required
              />
            </label>{' '}
            <button type="submit">Fork</button>
          </form>
        </div>
      )}
      {props.replay ? (
        <div class={props.replay.identical ? 'notice good' : 'notice bad'} id="replay-result">
          {props.replay.identical
            ? `Replay identical: ${props.replay.comparedEvents} events compared.`
            : `Replay diverged at step ${String(props.replay.divergence?.step ?? '?')}.`}
          {props.replay.divergence ? <pre>{prettyJson(props.replay.divergence)}</pre> : null}
        </div>
      ) : null}
    </section>
  );
}

/**
 * A run not finished yet, live: the page's script follows `/live/runs/:id/events` and shows the
 * model's text as it arrives and each event as it happens; without the script the page is
 * current when loaded.
 */
function LiveRun({ runId }: { runId: string }) {
  return (
    <section id="run-live" data-run-id={runId}>
      <h2>
        Live <span id="run-live-status" class="muted" data-live="off"></span>
      </h2>
      <pre class="text output" id="run-live-text"></pre>
      <ol id="run-live-events" class="muted"></ol>
    </section>
  );
}
