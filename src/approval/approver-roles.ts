import { KeelError } from '../core/index.js';
import type { Approver } from './approvals.js';

/**
 * Whether `approver` sees (and, with a deciding role, decides) what `group` decides: an admin
 * sees every group, everyone else only their own.
 *
 * ```ts
 * approverSees({ name: 'ana', groups: ['finance'], role: 'viewer' }, 'finance') // true
 * ```
 */
export function approverSees(approver: Approver, group: string): boolean {
  return approver.role === 'admin' || approver.groups.includes(group);
}

/**
 * The groups whose approvals `approver` sees, as a store filter: `undefined` for an admin (all
 * of them).
 */
export function visibleGroups(approver: Approver): readonly string[] | undefined {
  return approver.role === 'admin' ? undefined : approver.groups;
}

/** Throws `forbidden` unless `approver` may decide (an approver or an admin, not a viewer). */
export function requireDecider(approver: Approver): void {
  if (approver.role === 'viewer') {
    throw new KeelError(
      'forbidden',
      `${approver.name} is a viewer: viewing is all a viewer token may do`,
    );
  }
}
