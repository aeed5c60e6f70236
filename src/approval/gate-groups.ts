import type { ApprovalRouting, Gates } from './gates.js';
import { DEFAULT_APPROVER_GROUP } from './gates.js';

/**
 * Every group an agent's gates can ask: the default group, each tool's, and the groups their
 * expiries escalate to. An agent without gates asks nobody (an empty list).
 *
 * ```ts
 * gateGroups(refunds.gates) // ['finance', 'finance-leads']
 * ```
 */
export function gateGroups(gates: Gates | undefined): string[] {
  if (!gates) return [];
  const groups = new Set<string>();
  const add = (routing: ApprovalRouting, fallback: string): void => {
    groups.add(routing.approverGroup ?? fallback);
    const expiry = routing.onExpiry;
    if (typeof expiry === 'object') groups.add(expiry.escalateTo);
  };
  const defaultGroup = gates.options.approverGroup ?? DEFAULT_APPROVER_GROUP;
  add(gates.options, DEFAULT_APPROVER_GROUP);
  for (const setting of Object.values(gates.options.tools ?? {})) {
    if (typeof setting === 'object') add(setting, defaultGroup);
  }
  return [...groups].sort();
}
