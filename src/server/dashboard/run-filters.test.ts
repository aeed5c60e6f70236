import { describe, expect, expectTypeOf, it } from 'vitest';
import type { RunReason } from '../../journal/index.js';
import { KeelError } from '../../core/index.js';
import { REASON_TYPES, filterHref, parseRunFilters, runListQuery } from './run-filters.js';

describe('run filters', () => {
  it('lists every reason a run can end with', () => {
    expectTypeOf<(typeof REASON_TYPES)[number]>().toEqualTypeOf<RunReason['type']>();
  });

  it('turns a query string into a store query within the visible agents', () => {
    const filters = parseRunFilters({
      agent: 'refunds',
      status: 'failed',
      reason: 'limit',
      from: '2026-01-02',
      to: '2026-01-03',
      cost: '0.5',
      approvals: 'without',
      q: 'refund ORD-1',
      after: '1767312000000~run_b',
      empty: '',
    });
    expect(runListQuery(filters, ['refunds'], 50)).toEqual({
      visibleAgents: ['refunds'],
      agent: 'refunds',
      statuses: ['failed'],
      reasonTypes: ['limit'],
      createdFrom: Date.UTC(2026, 0, 2),
      createdBefore: Date.UTC(2026, 0, 4),
      costAbove: 0.5,
      hasApprovals: false,
      search: 'refund ORD-1',
      after: { createdAt: 1767312000000, id: 'run_b' },
      limit: 50,
    });
    expect(filterHref(filters, { createdAt: 5, id: 'run_a' })).toBe(
      '/?agent=refunds&status=failed&reason=limit&from=2026-01-02&to=2026-01-03&cost=0.5&approvals=without&q=refund+ORD-1&after=5%7Erun_a',
    );
    expect(filterHref(parseRunFilters({ after: '5~run_a' }))).toBe('/');
  });

  it('refuses a day its month does not have, and takes 29 February in a leap year', () => {
    for (const query of [{ from: '2026-02-30' }, { to: '2026-04-31' }, { from: '2025-02-29' }]) {
      expect(() => parseRunFilters(query)).toThrow(/not a calendar day/);
    }
    expect(runListQuery(parseRunFilters({ from: '2024-02-29' }), undefined, 50)).toMatchObject({
      createdFrom: Date.UTC(2024, 1, 29),
    });
  });

  it('refuses a bad filter as invalid_input, naming it', () => {
    for (const query of [
      { status: 'done' },
      { from: '2026-13-40' },
      { cost: '-1' },
      { after: 'nope' },
      { agent: '<b>' },
      { sort: 'cost' },
    ]) {
      const error = (() => {
        try {
          parseRunFilters(query);
          return undefined;
        } catch (caught) {
          return caught;
        }
      })();
      expect([query, KeelError.isInstance(error) && error.code]).toEqual([query, 'invalid_input']);
      expect((error as Error).message).toContain(Object.keys(query)[0]);
    }
  });
});
