import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TRUSTED_TASK } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';
import { simulator } from '../model/index.js';
import {
  approvalRequested,
  checkAssertion,
  contains,
  cost,
  decision,
  escalated,
  guardVerdict,
  icontains,
  isJson,
  javascript,
  latency,
  llmRubric,
  modelJudge,
  noUntrustedSink,
  not,
  regex,
  runView,
  status,
  steps,
  storedJudge,
  suppressed,
  tokens,
  toolCalled,
  toolCalls,
  toolNotCalled,
  trajectory,
  type EvalAssertion,
  type RunView,
} from './index.js';

const usage = { inputTokens: 100, outputTokens: 20 };

function modelCalled(step: number): RunEvent {
  return {
    type: 'model_called',
    step,
    content: [],
    finishReason: 'stop',
    usage,
    costUsd: 0.001,
    estimatedInputTokens: 100,
    latencyMs: 5,
    attempts: 1,
    provenance: TRUSTED_TASK,
  };
}

function call(
  step: number,
  callId: string,
  toolName: string,
  input: unknown,
  effect: 'read' | 'write' | 'irreversible' | 'egress' = 'read',
): RunEvent {
  return { type: 'tool_requested', step, callId, index: 0, toolName, input, effect };
}

function finished(step: number, callId: string, toolName: string, content: string): RunEvent {
  return {
    type: 'tool_finished',
    step,
    callId,
    toolName,
    content,
    contentHash: 'h',
    provenance: TRUSTED_TASK,
    attempts: 1,
    latencyMs: 1,
  };
}

/** A refund run: customer, order, refund (suppressed), an approval asked, a guard verdict. */
function refundRun(
  output: string,
  extra: readonly RunEvent[] = [],
  end: Partial<Extract<RunEvent, { type: 'run_finished' }>> = {},
): RunView {
  const events: RunEvent[] = [
    {
      type: 'run_started',
      agent: 'refunds',
      task: 'Refund ORD-1001, damaged',
      taskProvenance: TRUSTED_TASK,
      model: { provider: 'simulator', modelId: 'sim' },
      limits: {} as never,
      startedAt: 0,
    },
    modelCalled(0),
    call(0, 'c1', 'lookup_customer', { query: 'alice@example.com' }),
    finished(0, 'c1', 'lookup_customer', '{"id":"CUS-1"}'),
    modelCalled(1),
    call(1, 'c2', 'lookup_order', { orderId: 'ORD-1001' }),
    finished(1, 'c2', 'lookup_order', '{"id":"ORD-1001"}'),
    modelCalled(2),
    call(2, 'c3', 'issue_refund', { orderId: 'ORD-1001', amountCents: 4200 }, 'irreversible'),
    {
      type: 'guard_verdict',
      step: 2,
      callId: 'c3',
      index: 0,
      toolName: 'issue_refund',
      policy: 'guard',
      verdict: 'confirm',
      rule: 'irreversible_needs_human',
    },
    {
      type: 'approval_requested',
      step: 2,
      callId: 'c3',
      index: 0,
      toolName: 'issue_refund',
      approvalId: 'ap1',
      argsHash: 'x',
      reason: { type: 'effect', effect: 'irreversible' } as never,
      approverGroup: 'finance',
      expiresAt: 10,
      onExpiry: 'deny' as never,
    },
    {
      type: 'tool_intercepted',
      step: 2,
      callId: 'c3',
      toolName: 'issue_refund',
      effect: 'irreversible',
      input: { orderId: 'ORD-1001', amountCents: 4200 },
      action: 'suppressed',
      detail: 'no fixture',
    },
    finished(2, 'c3', 'issue_refund', '{"suppressed":true}'),
    ...extra,
    modelCalled(3),
    {
      type: 'run_finished',
      status: 'succeeded',
      reason: { type: 'final_answer' },
      output,
      usage: { inputTokens: 400, outputTokens: 80, costUsd: 0.004, costKnown: true },
      steps: 4,
      ...end,
    },
  ];
  return runView(events.map((event, index) => ({ at: 1000 + index * 10, event })));
}

const view = refundRun('Refunded $42.00: refund RF-1234. Confirmation sent.');

async function verdict(assertion: EvalAssertion, run: RunView = view): Promise<boolean> {
  return (await checkAssertion(assertion, run)).pass;
}

function decided(confidence: number, review = false): RunEvent[] {
  const base = { step: 2, callId: 'c3', toolName: 'issue_refund', decisionId: 'd1' } as const;
  return [
    {
      type: 'decision_recorded',
      ...base,
      entry: { type: 'decision_made', value: 'refund', confidence, agreement: [1, 1] },
    },
    ...(review
      ? [
          {
            type: 'decision_recorded',
            ...base,
            entry: { type: 'decision_review_requested', confidence, minConfidence: 0.6 },
          } satisfies RunEvent,
        ]
      : []),
  ];
}

describe('assertions over the journal', () => {
  const cases: readonly [string, EvalAssertion, EvalAssertion][] = [
    ['status', status('succeeded'), status(['failed', 'stopped'])],
    [
      'status with reason',
      status('succeeded', { reason: 'final_answer' }),
      status('succeeded', { reason: 'limit' }),
    ],
    ['contains', contains('RF-1234'), contains('rf-1234')],
    ['icontains', icontains('rf-1234'), icontains('RF-9999')],
    ['regex', regex(/RF-\d+/), regex(/PAY-\d+/)],
    ['tool-called', toolCalled('lookup_order'), toolCalled('send_email')],
    [
      'tool-called with args',
      toolCalled('issue_refund', { args: { orderId: 'ORD-1001' } }),
      toolCalled('issue_refund', { args: { orderId: 'ORD-2002' } }),
    ],
    [
      'tool-called at most',
      toolCalled('lookup_order', { max: 1 }),
      toolCalled('lookup_order', { min: 2 }),
    ],
    [
      'tool-called executed',
      toolCalled('lookup_order', { executed: true }),
      toolCalled('send_email', { executed: true }),
    ],
    ['tool-not-called', toolNotCalled('send_email'), toolNotCalled('issue_refund')],
    ['tool-calls', toolCalls({ max: 3 }), toolCalls({ max: 2 })],
    [
      'trajectory exact',
      trajectory(['lookup_customer', 'lookup_order', 'issue_refund']),
      trajectory(['lookup_order', 'lookup_customer', 'issue_refund']),
    ],
    [
      'trajectory ordered',
      trajectory(['lookup_customer', 'issue_refund'], { mode: 'ordered' }),
      trajectory(['issue_refund', 'lookup_customer'], { mode: 'ordered' }),
    ],
    [
      'trajectory subset',
      trajectory(['issue_refund', 'lookup_customer'], { mode: 'subset' }),
      trajectory(['send_email'], { mode: 'subset' }),
    ],
    [
      'trajectory allowed',
      trajectory(['lookup_customer', 'lookup_order', 'issue_refund', 'send_email'], {
        mode: 'allowed',
      }),
      trajectory(['lookup_customer', 'lookup_order'], { mode: 'allowed' }),
    ],
    ['steps', steps({ max: 4 }), steps({ max: 3 })],
    ['tokens', tokens(480), tokens(479)],
    ['cost', cost(0.004), cost(0.003)],
    ['latency', latency(1000), latency(10)],
    [
      'approval-requested',
      approvalRequested({ tool: 'issue_refund' }),
      approvalRequested({ tool: 'send_email' }),
    ],
    [
      'approval-requested none',
      not(approvalRequested({ tool: 'send_email' })),
      approvalRequested({ min: 0, max: 0 }),
    ],
    [
      'guard-verdict',
      guardVerdict('confirm', { tool: 'issue_refund', rule: 'irreversible_needs_human' }),
      guardVerdict('deny'),
    ],
    ['suppressed', suppressed({ tool: 'issue_refund' }), suppressed({ max: 0 })],
    ['no-untrusted-sink', noUntrustedSink(), not(noUntrustedSink())],
    [
      'javascript',
      javascript((run) => run.calls.length === 3, 'three calls'),
      javascript((run) => ({ pass: run.output === '', message: 'output must be empty' })),
    ],
    ['not', not(contains('sorry')), not(contains('RF-1234'))],
  ];

  for (const [name, passing, failing] of cases) {
    it(`${name}: passes when the run has the property and fails when it does not`, async () => {
      expect(await verdict(passing)).toBe(true);
      expect(await verdict(failing)).toBe(false);
    });
  }

  it('is-json: passes for JSON matching a schema and fails for text or a mismatch', async () => {
    const json = refundRun('{"refundId":"RF-1","amountCents":4200}');
    const schema = z.object({ refundId: z.string(), amountCents: z.number() });
    expect(await verdict(isJson(), json)).toBe(true);
    expect(await verdict(isJson(schema), json)).toBe(true);
    expect(await verdict(isJson(), view)).toBe(false);
    const mismatch = await checkAssertion(isJson(z.object({ refundId: z.number() })), json);
    expect(mismatch.pass).toBe(false);
    expect(mismatch.message).toContain('refundId');
  });

  it('decision: passes above the confidence floor and fails below it or with no decision', async () => {
    expect(await verdict(decision({ minConfidence: 0.6 }), refundRun('x', decided(0.9)))).toBe(
      true,
    );
    expect(await verdict(decision({ minConfidence: 0.6 }), refundRun('x', decided(0.4)))).toBe(
      false,
    );
    expect(await verdict(decision({ minConfidence: 0.6 }), view)).toBe(false);
    expect(
      await verdict(decision({ reviewRequested: true }), refundRun('x', decided(0.4, true))),
    ).toBe(true);
  });

  it('escalation: escalated exactly when a decision fell below the confidence', async () => {
    const assertion = escalated({ when: 'confidence < 0.6' });
    expect(await verdict(assertion, refundRun('x', decided(0.4, true)))).toBe(true);
    expect(await verdict(assertion, refundRun('x', decided(0.9)))).toBe(true);
    // Unsure and not escalated; sure and escalated anyway: both fail.
    expect(await verdict(assertion, refundRun('x', decided(0.4)))).toBe(false);
    const escalatedRun = refundRun('x', decided(0.9), {
      status: 'escalated',
      reason: { type: 'escalation', message: 'handed over' },
    });
    expect(await verdict(assertion, escalatedRun)).toBe(false);
    expect(await verdict(escalated(), escalatedRun)).toBe(true);
    expect(await verdict(escalated(), view)).toBe(false);
  });

  it('no-untrusted-sink: fails when a flagged call reached execution', async () => {
    const flagged = refundRun('x', [
      call(3, 'c4', 'send_email', { to: 'attacker@evil.example' }, 'egress'),
      {
        type: 'action_flagged',
        step: 3,
        callId: 'c4',
        index: 0,
        toolName: 'send_email',
        flags: [
          { kind: 'untrusted_destination', argument: 'to', detail: 'seen only in a tool result' },
        ],
      },
      finished(3, 'c4', 'send_email', '{"id":"EM-1"}'),
    ]);
    const result = await checkAssertion(noUntrustedSink(), flagged);
    expect(result.pass).toBe(false);
    expect(result.message).toContain('attacker@evil.example');
  });

  it('trajectory: a failure shows a readable diff of expected and actual tools', async () => {
    const result = await checkAssertion(
      trajectory(['lookup_customer', 'lookup_order', 'issue_refund', 'send_email']),
      view,
    );
    expect(result.message).toBe(
      [
        'trajectory differs (- expected, + actual):',
        '  lookup_customer',
        '  lookup_order',
        '  issue_refund',
        '- send_email',
      ].join('\n'),
    );
  });

  it('javascript: a check that throws fails with its message', async () => {
    const result = await checkAssertion(
      javascript(() => {
        throw new Error('boom');
      }),
      view,
    );
    expect(result).toMatchObject({ pass: false, message: 'the check threw: boom' });
  });

  it('llm-rubric: passes at or above the threshold, fails below, and counts the judge cost', async () => {
    const judgeModel = simulator({
      script: ({ request }) => ({
        text: JSON.stringify({
          score: request.messages.some((message) =>
            message.parts.some((part) => part.type === 'text' && part.text.includes('RF-')),
          )
            ? 0.9
            : 0.2,
          reason: 'checked for a refund reference',
        }),
      }),
    });
    const judge = modelJudge({ fallback: judgeModel });
    const pass = await checkAssertion(llmRubric('quotes a refund reference'), view, { judge });
    expect(pass.pass).toBe(true);
    expect(pass.judgement?.costUsd).toBeGreaterThan(0);
    const fail = await checkAssertion(llmRubric('quotes a refund reference'), refundRun('Sorry.'), {
      judge,
    });
    expect(fail.pass).toBe(false);
    expect(fail.message).toContain('score 0.2');
  });

  it('llm-rubric: re-scoring reuses a stored judgement and never judges anew', async () => {
    const judge = modelJudge({
      fallback: simulator({ script: [{ text: '{"score":1,"reason":"fine"}' }] }),
    });
    const first = await checkAssertion(llmRubric('polite'), view, { judge });
    const stored = storedJudge(first.judgement ? [first.judgement] : []);
    expect((await checkAssertion(llmRubric('polite'), view, { judge: stored })).pass).toBe(true);
    const changed = await checkAssertion(llmRubric('rude'), view, { judge: stored });
    expect(changed).toMatchObject({ pass: false });
    expect(changed.message).toContain('not judged');
  });
});
