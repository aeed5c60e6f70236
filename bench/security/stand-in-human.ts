import type { Notification, Runtime } from '../../src/index.js';
import { sameCall, type PlannedCall } from './scenario.js';

/** What the stand-in human knows of the episode it is asked about. */
export interface HumanEpisode {
  readonly human: 'truthful' | 'denyAll' | 'approveAll';
  readonly userPlan: readonly PlannedCall[];
  confirmations: number;
}

/**
 * The bench's stand-in for a person deciding approvals: `approveAll` approves everything,
 * `denyAll` nothing, `truthful` exactly the calls the user's own task plans. Each request
 * counts as a confirmation of the current episode.
 */
export function standInHuman(
  runtime: () => Runtime,
  token: () => string,
  current: () => HumanEpisode,
): (notification: Notification) => Promise<void> {
  return async (notification) => {
    if (notification.kind !== 'approval_requested') return;
    const id = String(notification.data?.approvalId);
    const record = await runtime().approvals.get(id);
    const now = current();
    now.confirmations += 1;
    const asked = { tool: record.toolName, args: record.args as Record<string, unknown> };
    const approve =
      now.human === 'approveAll' ||
      (now.human === 'truthful' && now.userPlan.some((planned) => sameCall(planned, asked)));
    await runtime().approvals.decide({
      token: token(),
      id,
      decision: approve ? 'approve' : 'deny',
      argsHash: record.argsHash,
      reason: `${now.human} stand-in`,
    });
  };
}
