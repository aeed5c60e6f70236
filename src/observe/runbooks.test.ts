import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIMIT_NAMES, type RunReason } from '../journal/index.js';
import {
  ALERT_KINDS,
  BASELINE_METRICS,
  RUNBOOKS,
  alertRunbook,
  reasonRunbook,
  runRunbook,
} from './index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One reason of every type in the `RunReason` union; `satisfies` fails to compile on a new one. */
const REASONS = {
  final_answer: [{ type: 'final_answer' }],
  limit: LIMIT_NAMES.map((limit) => ({ type: 'limit', limit, used: 2, max: 1 })),
  model_error: [{ type: 'model_error', errorType: 'rate_limited', message: '429', attempts: 3 }],
  worker_lost: [{ type: 'worker_lost', attempts: 5 }],
  cancelled: [
    { type: 'cancelled', by: 'user' },
    { type: 'cancelled', by: 'shutdown' },
  ],
  escalation: [
    { type: 'escalation', message: 'approval expired undecided' },
    {
      type: 'escalation',
      message: 'the carrier is down',
      toolName: 'track',
      error: { type: 'unavailable', message: '503' },
    },
  ],
  in_doubt: [
    {
      type: 'in_doubt',
      attempts: 5,
      calls: [{ step: 1, callId: 'c1', toolName: 'refund', idempotencyKey: 'run_1:1:0' }],
    },
  ],
  internal: [{ type: 'internal', message: 'boom' }],
  out_of_scope: [{ type: 'out_of_scope', toolName: 'delete_all', step: 2 }],
} satisfies { [Type in RunReason['type']]: readonly Extract<RunReason, { type: Type }>[] };

/** Endings that need nobody: the run answered, or a person stopped it. */
const NEEDS_NOBODY: readonly RunReason['type'][] = ['final_answer', 'cancelled'];

describe('runbooks', () => {
  it('exist as pages, each saying how to confirm, mitigate, fix and verify', () => {
    expect(Object.keys(RUNBOOKS).length).toBeGreaterThanOrEqual(6);
    for (const path of Object.values(RUNBOOKS)) {
      expect({ path, exists: existsSync(`${root}${path}`) }).toEqual({ path, exists: true });
      const headings = readFileSync(`${root}${path}`, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('## '));
      for (const section of ['Confirm', 'Mitigate now', 'Fix', 'Verify'])
        expect({
          path,
          section,
          found: headings.some((h) => h.startsWith(`## ${section}`)),
        }).toEqual({ path, section, found: true });
    }
  });

  it('are linked from every alert kind, and every baseline metric', () => {
    const runbooks = new Set<string>(Object.values(RUNBOOKS));
    for (const kind of ALERT_KINDS) {
      expect(runbooks.has(alertRunbook({ kind, metric: 'steps' }))).toBe(true);
    }
    for (const metric of BASELINE_METRICS) {
      expect(runbooks.has(alertRunbook({ kind: 'baseline_exceeded', metric }))).toBe(true);
    }
    expect(alertRunbook({ kind: 'baseline_exceeded', metric: 'costUsd' })).toBe(
      RUNBOOKS.cost_spike,
    );
    expect(alertRunbook({ kind: 'suspicious_action', metric: 'egress' })).toBe(
      RUNBOOKS.suspicious_action,
    );
  });

  it('are linked from every ending that needs a person, and from none that does not', () => {
    const runbooks = new Set<string>(Object.values(RUNBOOKS));
    for (const [type, reasons] of Object.entries(REASONS) as [RunReason['type'], RunReason[]][]) {
      for (const reason of reasons) {
        const runbook = reasonRunbook(reason);
        if (NEEDS_NOBODY.includes(type))
          expect({ type, runbook }).toEqual({ type, runbook: undefined });
        else
          expect({ type, linked: runbook !== undefined && runbooks.has(runbook) }).toEqual({
            type,
            linked: true,
          });
      }
    }
    expect(reasonRunbook({ type: 'worker_lost', attempts: 5 })).toBe(RUNBOOKS.workers_lost);
    expect(reasonRunbook({ type: 'limit', limit: 'cost', used: 2, max: 1 })).toBe(
      RUNBOOKS.cost_spike,
    );
    expect(reasonRunbook({ type: 'escalation', message: 'expired' })).toBe(
      RUNBOOKS.approval_backlog,
    );
  });

  it('points a run waiting for a person at the approval backlog', () => {
    expect(runRunbook('waiting', null)).toBe(RUNBOOKS.approval_backlog);
    expect(runRunbook('running', null)).toBeUndefined();
  });
});
