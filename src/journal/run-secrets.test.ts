import { describe, expect, it } from 'vitest';
import { redactors } from '../core/index.js';
import type { RunEvent } from './index.js';
import { journalRedaction, runSecretSpec } from './run-secrets.js';

/*
 * The marks every view of a journal applies: recorded secret fields (their values wherever they
 * recur, short ones in their field only), recorded redactors, the built-in patterns.
 */

const secrets = runSecretSpec(
  [{ name: 'charge', secretFields: { input: ['card.pin', 'card.token'], output: ['receipt'] } }],
  [{ name: 'account', pattern: /\bACCT-\d{6}\b/ }, redactors.cardNumber],
);

const started = {
  type: 'run_started',
  agent: 'billing',
  task: 'charge ACCT-004211',
  taskProvenance: { trust: 'trusted', source: 'task' },
  model: { provider: 'simulator', modelId: 'x' },
  limits: {},
  startedAt: 1,
  secrets,
} as unknown as RunEvent;

const call = (input: unknown): RunEvent => ({
  type: 'tool_requested',
  step: 0,
  callId: 'c1',
  index: 0,
  toolName: 'charge',
  input,
  effect: 'irreversible',
});

describe('journalRedaction', () => {
  it("redacts an approver's edit, the results' fields and every echo of their values", () => {
    const events: RunEvent[] = [
      started,
      call({ card: { pin: '42', token: 'tok_first_1' }, note: 'x' }),
      {
        type: 'approval_decided',
        step: 0,
        callId: 'c1',
        toolName: 'charge',
        approvalId: 'apr_1',
        decision: 'approved',
        decidedBy: 'ana',
        editedInput: {
          card: { pin: '77', token: 'tok_edited_2' },
          note: 'card 4111 1111 1111 1111',
        },
        at: 2,
      },
      {
        type: 'tool_finished',
        step: 0,
        callId: 'c1',
        toolName: 'charge',
        content: JSON.stringify({ receipt: 'rcpt_99812', ok: true }),
        contentHash: 'h',
        provenance: { trust: 'trusted', source: 'tool' },
        attempts: 1,
        latencyMs: 1,
      } as unknown as RunEvent,
    ];
    const redaction = journalRedaction(events);
    const shown = events.map((event) => redaction.event(event));
    expect(shown[2]).toMatchObject({
      editedInput: {
        card: { pin: '[redacted]', token: '[redacted]' },
        note: 'card [redacted:card_number]',
      },
    });
    expect(shown[1]).toMatchObject({ input: { card: { pin: '[redacted]', token: '[redacted]' } } });
    expect(shown[3]).toMatchObject({ content: '{"receipt":"[redacted]","ok":true}' });
    expect(shown[0]).toMatchObject({ task: 'charge [redacted:account]' });
    // An echo anywhere: a long value goes, a short one (a PIN) is left to its field.
    expect(redaction.value('sent tok_edited_2 and rcpt_99812 with 42')).toBe(
      'sent [redacted] and [redacted] with 42',
    );
  });

  it('leaves a journal without marks as the built-in patterns find it', () => {
    const redaction = journalRedaction([{ ...started, secrets: undefined } as RunEvent]);
    expect(redaction.value('tok_x ACCT-004211, card 4111 1111 1111 1111')).toBe(
      'tok_x ACCT-004211, card [redacted:card_number]',
    );
  });
});
