import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, replayRun } from '../../src/index.js';
import { REFUNDS_CANDIDATE_VERSION, createSupportDeskAgents } from './agents.js';
import { SupportBackend } from './backend.js';
import { runDemo, type DemoReport, type ScenarioName, type ScenarioReport } from './demo.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-demo-test-'));

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function scenario<Name extends ScenarioName>(
  report: DemoReport,
  name: Name,
): Extract<ScenarioReport, { name: Name }> {
  const found = report.scenarios.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no scenario ${name} in the report`);
  return found as Extract<ScenarioReport, { name: Name }>;
}

describe('runDemo', () => {
  let report: DemoReport;
  const lines: string[] = [];

  beforeAll(async () => {
    report = await runDemo({
      storeUrl: `sqlite:${join(directory, 'demo.db')}`,
      json: false,
      log: (line) => lines.push(line),
    });
  }, 120_000);

  it('runs the five scenarios in order and says they behaved as expected', () => {
    expect(report.scenarios.map((entry) => entry.name)).toEqual([
      'success',
      'retry',
      'loop_stopped',
      'resume',
      'approval',
    ]);
    expect(report.asExpected).toBe(true);
    // The refunds candidate shadowed the refund run and touched nothing.
    expect(report.shadow).toMatchObject({
      agent: 'refunds',
      candidateVersion: REFUNDS_CANDIDATE_VERSION,
      pairs: 1,
      executedSideEffects: 0,
    });
    expect(report.shadow?.suppressedCalls).toBeGreaterThan(0);
    expect(report.model).toEqual({
      provider: 'simulator',
      modelId: 'support-desk-script',
      description: 'scripted, deterministic',
      realModelCalled: false,
    });
  });

  it('refunds the order end to end when nothing fails', () => {
    const success = scenario(report, 'success');
    expect(success.status).toBe('succeeded');
    expect(success.reason).toEqual({ type: 'final_answer' });
    expect(success.facts).toEqual({
      toolCalls: ['lookup_customer', 'lookup_order', 'issue_refund', 'send_email'],
      refundIds: ['RF-5001'],
    });
    expect(success.output).toContain('Refunded $72.50 for order ORD-1001');
    expect(success.output).toContain('RF-5001');
  });

  it('retries the payments gateway when it fails once with unavailable', () => {
    const retry = scenario(report, 'retry');
    expect(retry.status).toBe('succeeded');
    expect(retry.facts).toEqual({
      retries: 1,
      failures: ['get_payment_status: unavailable'],
      attempts: 2,
    });
    expect(retry.journal[0]).toContain(
      'get_payment_status({"paymentId":"PAY-2001"}) → tool_failed (unavailable) → retried → tool_finished (attempt 2)',
    );
    expect(retry.output).toContain('insufficient_funds');
  });

  it('stops the looping agent with identical_calls before the iteration cap', () => {
    const loop = scenario(report, 'loop_stopped');
    expect(loop.status).toBe('stopped');
    expect(loop.reason).toEqual({ type: 'limit', limit: 'identical_calls', used: 4, max: 3 });
    expect(loop.facts).toEqual({
      limit: 'identical_calls',
      used: 4,
      max: 3,
      maxIterations: 8,
      repeatedCall: 'track_shipment({"trackingNumber":"1Z999AA10123456784"})',
    });
    expect(loop.steps).toBeLessThan(8);
  });

  it('resumes the run in another worker when its worker process is killed', () => {
    const resume = scenario(report, 'resume');
    expect(resume.status).toBe('succeeded');
    expect(resume.facts.claims.length).toBeGreaterThanOrEqual(2);
    expect(new Set(resume.facts.claims.map((claim) => claim.workerId)).size).toBe(2);
    expect(resume.facts.claims[0]?.workerId).toBe(
      `support-desk-worker:${String(resume.facts.childPid)}`,
    );
    expect(resume.facts.repeatedCompletedCalls).toBe(0);
    expect(resume.facts.refundsIssued).toBe(1);
    expect(resume.facts.toolExecutionsBeforeKill.length).toBeGreaterThan(0);
    expect(resume.facts.toolExecutionsAfterResume).toContain('send_email');
    expect(resume.output).toContain('Refunded $95.00 for order ORD-1002');
  });

  it('holds a refund over the limit for the finance group until a human approves it', () => {
    const approval = scenario(report, 'approval');
    expect(approval.status).toBe('succeeded');
    expect(approval.facts).toMatchObject({
      approverGroup: 'finance',
      gateReason: { type: 'policy', policy: 'refund_limit' },
      parkedWithoutWorker: true,
      decidedBy: 'dana',
      refundStartedBeforeDecision: false,
      refundsIssued: 1,
    });
    expect(approval.facts.decideLink).toBe(
      `http://127.0.0.1:4600/approvals/${approval.facts.approvalId}`,
    );
    expect(approval.facts.notified).toContain('Approval needed: issue_refund (refunds)');
    expect(approval.journal).toContain('waiting for a decision (no worker held)');
    expect(approval.journal).toContain(
      '  issue_refund (resumed) → approved by dana → tool_finished',
    );
    expect(approval.output).toContain('Refunded $219.00 for order ORD-1005');
    expect(lines.join('\n')).toContain('notification on the local Slack-compatible webhook');
  });

  it('prints a readable summary that names the model', () => {
    const text = lines.join('\n');
    expect(text).toContain('status   stopped: identical_calls limit reached (4 of 3)');
    expect(text).toContain('tool_failed (unavailable) → retried → tool_finished');
    expect(lines.at(-1)).toBe(
      'models: router simulator/support-desk-router (fast tier), executors simulator/support-desk-script (frontier tier); scripted, deterministic — no real model was called',
    );
  });

  it('routes every ticket with the fast-tier router to a frontier-tier executor', () => {
    expect(report.models).toEqual([
      { role: 'router', model: 'simulator/support-desk-router', tier: 'fast' },
      { role: 'executors', model: 'simulator/support-desk-script', tier: 'frontier' },
    ]);
    expect(report.scenarios.map((entry) => [entry.routing?.route, entry.agent])).toEqual([
      ['refunds', 'refunds'],
      ['payments', 'payments'],
      ['general', 'general'],
      ['refunds', 'refunds'],
      ['refunds', 'refunds'],
    ]);
    for (const entry of report.scenarios) {
      expect(entry.routing).toMatchObject({ model: 'simulator/support-desk-router', tier: 'fast' });
    }
    expect(lines.join('\n')).toContain(
      'routed   by simulator/support-desk-router (fast tier) → payments, confidence 0.93',
    );
  });

  it("replays every scenario's run identically with the current code", async () => {
    const store = await openStore(report.store);
    try {
      const agents = createSupportDeskAgents(new SupportBackend());
      for (const entry of report.scenarios) {
        const agent = agents.find((candidate) => candidate.name === entry.agent);
        if (!agent) throw new Error(`no agent ${entry.agent}`);
        const journal = await store.readEvents(entry.runId);
        const replay = await replayRun({ agent, runId: entry.runId, journal });
        expect([entry.name, replay.divergence]).toEqual([entry.name, null]);
      }
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('runDemo with json', () => {
  it('logs nothing and returns the report when json is true', async () => {
    const lines: string[] = [];
    const report = await runDemo({
      storeUrl: `sqlite:${join(directory, 'demo-json.db')}`,
      json: true,
      log: (line) => lines.push(line),
    });
    expect(lines).toEqual([]);
    expect(report.asExpected).toBe(true);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 120_000);
});
