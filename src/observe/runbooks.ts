import type { RunReason } from '../journal/index.js';
import type { Alert, AlertKind } from './alerts.js';

/**
 * The runbooks: one page each under `docs/runbooks/` (shipped in the package), for the failures
 * a person is called to. Each says how to confirm it, mitigate now, fix, and verify.
 */
export const RUNBOOKS = {
  provider_outage: 'docs/runbooks/provider-outage.md',
  stuck_run: 'docs/runbooks/stuck-run.md',
  cost_spike: 'docs/runbooks/cost-spike.md',
  suspicious_action: 'docs/runbooks/suspicious-action.md',
  workers_lost: 'docs/runbooks/workers-lost.md',
  approval_backlog: 'docs/runbooks/approval-backlog.md',
} as const;
/** One runbook's name. */
export type RunbookName = keyof typeof RUNBOOKS;

// Typed as a total record: a new alert kind does not compile until it names its runbook.
const ALERT_RUNBOOKS = {
  baseline_exceeded: 'stuck_run',
  repeated_tool_call: 'stuck_run',
  tool_error_burst: 'provider_outage',
  output_token_spike: 'cost_spike',
  suspicious_action: 'suspicious_action',
  mcp_tool_withheld: 'suspicious_action',
  in_doubt: 'workers_lost',
} as const satisfies Record<AlertKind, RunbookName>;

/**
 * The runbook for an alert: a baseline drift in cost or tokens is a cost spike, any other drift
 * (duration, steps, tool errors) a slow or looping run.
 *
 * ```ts
 * alertRunbook({ kind: 'suspicious_action', metric: 'egress' }); // 'docs/runbooks/suspicious-action.md'
 * ```
 */
export function alertRunbook(alert: Pick<Alert, 'kind' | 'metric'>): string {
  if (alert.kind === 'baseline_exceeded') {
    if (alert.metric === 'costUsd' || alert.metric === 'tokens') return RUNBOOKS.cost_spike;
    if (alert.metric === 'toolErrorRate') return RUNBOOKS.provider_outage;
  }
  return RUNBOOKS[ALERT_RUNBOOKS[alert.kind]];
}

/**
 * The runbook for how a run ended, or `undefined` when the ending needs nobody (a final answer,
 * a cancel). Every other reason names one: a limit, a model that kept failing, a lost worker,
 * an escalation, an internal error, a call outside the agent's tools.
 *
 * ```ts
 * reasonRunbook({ type: 'worker_lost', attempts: 3 }); // 'docs/runbooks/workers-lost.md'
 * ```
 */
export function reasonRunbook(reason: RunReason): string | undefined {
  switch (reason.type) {
    case 'final_answer':
    case 'cancelled':
      return undefined;
    case 'limit':
      return reason.limit === 'cost' || reason.limit === 'tokens'
        ? RUNBOOKS.cost_spike
        : RUNBOOKS.stuck_run;
    case 'model_error':
      return RUNBOOKS.provider_outage;
    case 'worker_lost':
    case 'in_doubt':
      return RUNBOOKS.workers_lost;
    case 'escalation':
      // A tool's handoff names the tool; an approval that expired undecided does not.
      return reason.toolName === undefined ? RUNBOOKS.approval_backlog : RUNBOOKS.provider_outage;
    case 'internal':
      return RUNBOOKS.stuck_run;
    case 'out_of_scope':
      return RUNBOOKS.suspicious_action;
    default:
      return reason satisfies never;
  }
}

/**
 * The runbook for a run as `keel show` sees it: its ending's, or the approval backlog's while it
 * waits for a person.
 *
 * ```ts
 * runRunbook('waiting', null); // 'docs/runbooks/approval-backlog.md'
 * ```
 */
export function runRunbook(status: string, reason: RunReason | null): string | undefined {
  if (reason) return reasonRunbook(reason);
  return status === 'waiting' ? RUNBOOKS.approval_backlog : undefined;
}
