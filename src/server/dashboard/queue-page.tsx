import { describeGateReason, type GateReason } from '../../approval/index.js';
import type { ApprovalRecord } from '../../store/index.js';
import { prettyJson, when } from './format.js';
import { Empty, Layout, StatusBadge } from './layout.js';
import type { Viewer } from './viewer.js';

/** A refused decision, shown on its approval: the message and what the approver had typed. */
export interface DecisionProblem {
  readonly approvalId: string;
  readonly code: string;
  readonly message: string;
  readonly reason: string;
  readonly editedArgs: string;
}

export interface QueueProps {
  readonly viewer: Viewer;
  readonly pending: readonly ApprovalRecord[];
  readonly decided: readonly ApprovalRecord[];
  /** A tool's input JSON Schema, when its agent is loaded here. */
  readonly schemaOf: (approval: ApprovalRecord) => Record<string, unknown> | undefined;
  readonly problem?: DecisionProblem | undefined;
  readonly notice?: string | undefined;
}

/**
 * `/queue`: the gated calls waiting for the viewer's groups, live (the page's one script listens
 * to `/live/queue` and adds and removes cards as approvals come and go), and the latest
 * decisions. Without the script it is the same page, current when loaded.
 */
export function QueuePage(props: QueueProps) {
  return (
    <Layout title="Approvals" viewer={props.viewer} section="approvals" live>
      <h1>
        Approvals{' '}
        <span class="count" id="pending-count">
          {props.pending.length}
        </span>
      </h1>
      <p class="hint">
        Each decision is bound to the arguments hash shown: if the call changed since, it is
        refused. {props.viewer.canAct ? '' : 'Your token views only: it cannot decide.'}
        <span id="live-status" class="muted" data-live="off">
          {' '}
        </span>
      </p>
      {props.notice ? <p class="notice good">{props.notice}</p> : null}
      <QueueList {...props} />
      <h2>Recently decided</h2>
      {props.decided.length === 0 ? (
        <Empty>Nothing decided yet.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Approval</th>
              <th>Tool</th>
              <th>Run</th>
              <th>Group</th>
              <th>State</th>
              <th>By</th>
              <th>When</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {props.decided.map((approval) => (
              <tr id={approval.id}>
                <td>
                  <code>{approval.id}</code>
                </td>
                <td>{approval.toolName}</td>
                <td>
                  <a href={`/runs/${encodeURIComponent(approval.runId)}`}>
                    <code>{approval.runId}</code>
                  </a>
                </td>
                <td>{approval.approverGroup}</td>
                <td>
                  <StatusBadge status={approval.state} />
                </td>
                <td>{approval.decidedBy ?? ''}</td>
                <td>{when(approval.decidedAt)}</td>
                <td>{approval.decisionReason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

/** The pending cards: the page's list, and the fragment `/live/queue` sends when it changes. */
export function QueueList(props: QueueProps) {
  return (
    <div id="approval-queue" class="queue">
      {props.pending.length === 0 ? (
        <p class="empty" data-empty>
          Nothing is waiting for your groups.
        </p>
      ) : (
        props.pending.map((approval) => (
          <ApprovalCard
            approval={approval}
            viewer={props.viewer}
            schema={props.schemaOf(approval)}
            problem={props.problem?.approvalId === approval.id ? props.problem : undefined}
          />
        ))
      )}
    </div>
  );
}

function ApprovalCard({
  approval,
  viewer,
  schema,
  problem,
}: {
  approval: ApprovalRecord;
  viewer: Viewer;
  schema: Record<string, unknown> | undefined;
  problem: DecisionProblem | undefined;
}) {
  const action = `/queue/${encodeURIComponent(approval.id)}/decision`;
  return (
    <article class="approval" id={approval.id} data-approval-id={approval.id}>
      <header>
        <code class="tool">{approval.toolName}</code> <StatusBadge status={approval.state} />
        <span class="muted"> for group {approval.approverGroup}</span>
      </header>
      <dl class="facts">
        <dt>Why gated</dt>
        <dd>{describeGateReason(approval.gateReason as GateReason)}</dd>
        <dt>Run</dt>
        <dd>
          <a href={`/runs/${encodeURIComponent(approval.runId)}`}>
            <code>{approval.runId}</code>
          </a>{' '}
          ({approval.agent}, step {approval.step})
        </dd>
        <dt>Requested</dt>
        <dd>{when(approval.createdAt)}</dd>
        <dt>Expires</dt>
        <dd>{when(approval.expiresAt)}</dd>
        <dt>Arguments hash</dt>
        <dd>
          <code class="hash">{approval.argsHash}</code>
        </dd>
      </dl>
      <pre class="args">{prettyJson(approval.args)}</pre>
      {schema ? (
        <details>
          <summary>Input schema of {approval.toolName}</summary>
          <pre>{prettyJson(schema)}</pre>
        </details>
      ) : null}
      {problem ? (
        <p class="notice bad" role="alert">
          {problem.code}: {problem.message}
        </p>
      ) : null}
      {viewer.canAct ? (
        <form class="decide" method="post" action={action}>
          <input type="hidden" name="_csrf" value={viewer.csrf} />
          <input type="hidden" name="argsHash" value={approval.argsHash} />
          <label>
            Reason
            <textarea name="reason" rows={2} maxlength={2000}>
              {problem?.reason ?? ''}
            </textarea>
          </label>
          <details open={problem !== undefined && problem.editedArgs !== ''}>
            <summary>Approve with edited arguments</summary>
            <label>
              Arguments (JSON; checked against the tool's schema; leave empty to approve them as
              shown)
              <textarea name="editedArgs" rows={5} spellcheck={false}>
                {problem?.editedArgs ?? ''}
              </textarea>
            </label>
          </details>
          <div class="choices">
            <button type="submit" name="decision" value="approve" class="approve">
              Approve
            </button>
            <button type="submit" name="decision" value="deny" class="deny">
              Deny
            </button>
          </div>
        </form>
      ) : null}
    </article>
  );
}
