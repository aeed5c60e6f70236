import { describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { approverSees, defineGates, gateGroups, requireDecider, visibleGroups } from './index.js';

describe('gateGroups', () => {
  it('names every group a gate can ask: default, per tool, and escalations', () => {
    const gates = defineGates(
      {
        approverGroup: 'finance',
        onExpiry: { escalateTo: 'finance-leads' },
        tools: {
          close_account: { approverGroup: 'security', onExpiry: { escalateTo: 'cto' } },
          send_email: 'confirm',
        },
      },
      'gates',
    );
    expect(gateGroups(gates)).toEqual(['cto', 'finance', 'finance-leads', 'security']);
    expect(gateGroups(defineGates({}, 'gates'))).toEqual(['approvers']);
    expect(gateGroups(undefined)).toEqual([]);
  });
});

describe('approver roles', () => {
  const viewer = { name: 'vic', groups: ['finance'], role: 'viewer' } as const;
  const approver = { name: 'ana', groups: ['finance'], role: 'approver' } as const;
  const admin = { name: 'root', groups: [], role: 'admin' } as const;

  it('lets everyone see their own groups and an admin see every group', () => {
    expect([
      approverSees(viewer, 'finance'),
      approverSees(approver, 'support'),
      approverSees(admin, 'support'),
    ]).toEqual([true, false, true]);
    expect([visibleGroups(viewer), visibleGroups(admin)]).toEqual([['finance'], undefined]);
  });

  it('lets approvers and admins decide, and refuses a viewer as forbidden', () => {
    expect(() => {
      requireDecider(approver);
      requireDecider(admin);
    }).not.toThrow();
    let refused: unknown;
    try {
      requireDecider(viewer);
    } catch (error) {
      refused = error;
    }
    expect(KeelError.isInstance(refused) && refused.code).toBe('forbidden');
  });
});
