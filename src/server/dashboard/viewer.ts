import type { Agent } from '../../agent/index.js';
import { gateGroups, visibleGroups, type Approver } from '../../approval/index.js';

/**
 * Who is looking, and at what. Runs belong to the groups their agent's gates ask; a viewer sees
 * the runs of agents that ask one of their groups, and the approvals of their groups. An admin
 * sees everything; an agent that asks nobody is seen by admins only.
 */
export interface Viewer {
  readonly approver: Approver;
  /** Agents whose runs, costs and alerts this viewer sees; `undefined`: all of them. */
  readonly agents: readonly string[] | undefined;
  /** Groups whose approvals this viewer sees; `undefined`: all of them. */
  readonly groups: readonly string[] | undefined;
  /** Approve, deny, replay and fork (an approver or an admin). */
  readonly canAct: boolean;
  /** The session's CSRF token, for every form this viewer may post. */
  readonly csrf: string;
}

export function viewerOf(approver: Approver, agents: readonly Agent[], csrf: string): Viewer {
  const admin = approver.role === 'admin';
  return {
    approver,
    agents: admin
      ? undefined
      : agents
          .filter((agent) =>
            gateGroups(agent.gates).some((group) => approver.groups.includes(group)),
          )
          .map((agent) => agent.name),
    groups: visibleGroups(approver),
    canAct: approver.role !== 'viewer',
    csrf,
  };
}

export function seesAgent(viewer: Viewer, agent: string): boolean {
  return viewer.agents === undefined || viewer.agents.includes(agent);
}
