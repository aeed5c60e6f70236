import type { RunStreamEvent } from '../engine/index.js';

/** One line for a run event on stderr (`keel run --stream`); text itself goes to stdout. */
export function describeStreamEvent(event: RunStreamEvent): string {
  switch (event.type) {
    case 'run_started':
      return `· run ${event.runId} (${event.agent} on ${event.model.provider}:${event.model.modelId})`;
    case 'step_started':
      return `· step ${event.step}`;
    case 'text_delta':
    case 'text_completed':
      return event.text;
    case 'tool_call':
      return `· ${event.toolName} ${JSON.stringify(event.input)}`;
    case 'tool_result':
      return event.outcome === 'ok'
        ? `· ${event.toolName} → ok (${event.provenance.trust})`
        : `· ${event.toolName} → ${event.outcome}: ${event.error?.message ?? ''}`;
    case 'approval_requested':
      return `· waiting for approval ${event.approvalId}: ${event.bound.toolName} needs group "${event.group}" (keel approve ${event.approvalId} --hash ${event.bound.argsHash})`;
    case 'approval_decided':
      return `· approval ${event.approvalId} ${event.decision} by ${event.decidedBy}`;
    case 'limit_hit':
      return `· limit ${event.limit} reached (${event.used} of ${event.max})`;
    case 'run_finished':
      return `· ${event.result.status} after ${event.result.steps} step(s)`;
    default:
      return event satisfies never;
  }
}
