import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError, redactSecrets, redactors, secretDigest } from '../core/index.js';
import { simulator } from '../model/index.js';
import type { Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/*
 * Card numbers and national ids in tool calls: the tool and the model see them, the audit log
 * keeps only a digest salted with the run.
 */

const CARD = '4111 1111 1111 1111';
const SSN = '123-45-6789';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const charge = (seen: unknown[]) =>
  defineTool({
    name: 'charge_card',
    description: 'Charge a card',
    input: z.object({
      card: z.object({ number: z.string(), holder: z.string() }),
      note: z.string(),
    }),
    effect: 'read',
    secretFields: { input: ['card.number'], output: ['receipt.token'] },
    run(input) {
      seen.push(input);
      return Promise.resolve({
        receipt: { token: 'tok_live_42', last4: '1111' },
        echo: input.note,
      });
    },
  });

for (const target of storeTargets('keel_sec_')) {
  describe(`secret fields on ${target.name}`, () => {
    it('keeps secrets out of the audit log while the tool and the model get the real values', async () => {
      const { store, dispose } = await target.open();
      cleanups.push(dispose);
      const seen: unknown[] = [];
      const modelSaw: string[] = [];
      const runtime = createRuntime({
        store,
        agents: [
          defineAgent({
            name: 'billing',
            instructions: 'Charge.',
            model: simulator({
              script: ({ step, lastToolResults }) => {
                if (step === 0)
                  return {
                    toolCalls: [
                      {
                        name: 'charge_card',
                        args: { card: { number: CARD, holder: 'Ana' }, note: `customer ${SSN}` },
                      },
                    ],
                  };
                modelSaw.push(...lastToolResults.map((result) => result.content));
                return { text: 'charged' };
              },
            }),
            tools: [charge(seen)],
          }),
        ],
        redact: [redactors.cardNumber, redactors.nationalId],
      });
      cleanups.push(() => runtime.close());
      const result = await runtime.run('billing', 'Charge Ana');
      expect(result.status).toBe('succeeded');
      expect(seen).toEqual([{ card: { number: CARD, holder: 'Ana' }, note: `customer ${SSN}` }]);
      expect(modelSaw.join('')).toContain('tok_live_42');

      const rows = await auditRows(store, 'tool_call');
      expect(rows).toHaveLength(1);
      const text = JSON.stringify(rows);
      for (const secret of [CARD, SSN, 'tok_live_42']) expect(text).not.toContain(secret);
      expect(rows[0]).toMatchObject({
        args: {
          card: { number: `[redacted ${secretDigest(CARD, result.id)}]`, holder: 'Ana' },
          note: `customer [redacted:national_id ${secretDigest(SSN, result.id)}]`,
        },
        outcome: {
          ok: true,
          result: { receipt: { token: `[redacted ${secretDigest('tok_live_42', result.id)}]` } },
        },
      });
    });
  });
}

describe('secret fields in approvals', () => {
  it('shows approvers and notifications a digest, and the approved call still gets the real card', async () => {
    const { store, dispose } = await storeTargets('keel_sec_')[0].open();
    cleanups.push(dispose);
    const seen: unknown[] = [];
    const notified: string[] = [];
    const gated = defineTool({
      name: 'charge_card',
      description: 'Charge a card',
      input: z.object({ card: z.object({ number: z.string() }), note: z.string() }),
      effect: 'irreversible',
      secretFields: { input: ['card.number'] },
      run(input) {
        seen.push(input);
        return Promise.resolve({ ok: true });
      },
    });
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'billing',
          instructions: 'Charge.',
          model: simulator({
            script: ({ step }) =>
              step === 0
                ? {
                    toolCalls: [
                      { name: 'charge_card', args: { card: { number: CARD }, note: `id ${SSN}` } },
                    ],
                  }
                : { text: 'charged' },
          }),
          tools: [gated],
          gates: { approverGroup: 'finance' },
        }),
      ],
      redact: [redactors.nationalId],
      approvals: {
        notifier: {
          name: 'test',
          notify(notification) {
            notified.push(JSON.stringify(notification));
            return Promise.resolve();
          },
        },
      },
    });
    cleanups.push(() => runtime.close());
    const worker = runtime.startWorker({ pollMs: 5 });
    cleanups.push(() => worker.stop({ abortInFlight: true }));
    const { token } = await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] });
    const run = await runtime.submit('billing', 'Charge');
    let [approval] = await store.approvals.list({ runId: run.id });
    for (let tries = 0; !approval && tries < 2_000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      [approval] = await store.approvals.list({ runId: run.id });
    }
    if (!approval) throw new Error('no approval');
    for (let tries = 0; notified.length === 0 && tries < 2_000; tries++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const shown = JSON.stringify(approval) + notified.join('');
    for (const secret of [CARD, SSN]) expect(shown).not.toContain(secret);
    expect(approval.args).toEqual({
      card: { number: `[redacted ${secretDigest(CARD, run.id)}]` },
      note: `id [redacted:national_id ${secretDigest(SSN, run.id)}]`,
    });
    await runtime.approvals.decide({
      token,
      id: approval.id,
      decision: 'approve',
      argsHash: approval.argsHash,
    });
    expect((await runtime.wait(run.id, { pollMs: 5 })).status).toBe('succeeded');
    expect(seen).toEqual([{ card: { number: CARD }, note: `id ${SSN}` }]);
  });

  it("redacts an approver's edited arguments like the model's, and the call runs with the edit", async () => {
    const { store, dispose } = await storeTargets('keel_sec_')[0].open();
    cleanups.push(dispose);
    const seen: unknown[] = [];
    const EDITED_CARD = '5555 5555 5555 4444';
    const EDITED_SSN = '987-65-4321';
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'billing',
          instructions: 'Charge.',
          model: simulator({
            script: ({ step }) =>
              step === 0
                ? {
                    toolCalls: [
                      { name: 'charge_card', args: { card: { number: CARD }, note: 'x' } },
                    ],
                  }
                : { text: 'charged' },
          }),
          tools: [
            defineTool({
              name: 'charge_card',
              description: 'Charge a card',
              input: z.object({ card: z.object({ number: z.string() }), note: z.string() }),
              effect: 'irreversible',
              secretFields: { input: ['card.number'] },
              run(input) {
                seen.push(input);
                return Promise.resolve({ ok: true });
              },
            }),
          ],
          gates: { approverGroup: 'finance' },
        }),
      ],
      redact: [redactors.nationalId],
    });
    cleanups.push(() => runtime.close());
    const worker = runtime.startWorker({ pollMs: 5 });
    cleanups.push(() => worker.stop({ abortInFlight: true }));
    const { token } = await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] });
    const run = await runtime.submit('billing', 'Charge');
    let [approval] = await store.approvals.list({ runId: run.id });
    for (let tries = 0; !approval && tries < 2_000; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      [approval] = await store.approvals.list({ runId: run.id });
    }
    if (!approval) throw new Error('no approval');
    const decided = await runtime.approvals.decide({
      token,
      id: approval.id,
      decision: 'approve',
      argsHash: approval.argsHash,
      editedArgs: { card: { number: EDITED_CARD }, note: `id ${EDITED_SSN}` },
    });
    expect((await runtime.wait(run.id, { pollMs: 5 })).status).toBe('succeeded');
    expect(seen).toEqual([{ card: { number: EDITED_CARD }, note: `id ${EDITED_SSN}` }]);
    expect(decided.editedArgs).toEqual({
      card: { number: `[redacted ${secretDigest(EDITED_CARD, run.id)}]` },
      note: `id [redacted:national_id ${secretDigest(EDITED_SSN, run.id)}]`,
    });
    const { approvalJson } = await import('../approval/approval-json.js');
    const shown = [
      JSON.stringify(approvalJson(decided)),
      JSON.stringify(approvalJson(await runtime.approvals.get(approval.id))),
      JSON.stringify(await auditRows(store, 'approval_decision')),
    ].join('\n');
    for (const secret of [EDITED_CARD, EDITED_SSN]) expect(shown).not.toContain(secret);
  });
});

async function auditRows(store: Store, kind: string): Promise<unknown[]> {
  return (await store.audit.read())
    .filter((row) => row.kind === kind)
    .map((row) => JSON.parse(row.payload) as unknown);
}

describe('redactSecrets', () => {
  it('replaces paths through arrays and Luhn-valid card numbers only', () => {
    expect(
      redactSecrets(
        { cards: [{ number: '1' }, { number: '2' }], text: `${CARD} and 4111 1111 1111 1112` },
        { paths: ['cards[].number'], redactors: [redactors.cardNumber] },
      ),
    ).toEqual({
      cards: [{ number: '[redacted]' }, { number: '[redacted]' }],
      text: '[redacted:card_number] and 4111 1111 1111 1112',
    });
  });
});

describe('definitions', () => {
  it('refuses a secret field the input does not have, naming it', () => {
    const error = (() => {
      try {
        defineTool({
          name: 'x',
          description: 'x',
          input: z.object({ card: z.object({ number: z.string() }) }),
          effect: 'read',
          secretFields: { input: ['card.pan'] },
          run: () => Promise.resolve(null),
        });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(KeelError.isInstance(error) && [error.code, error.message]).toEqual([
      'invalid_definition',
      'defineTool("x"): "secretFields.input[0]" names "card.pan", which is not a field of "input"',
    ]);
  });

  it('refuses a redactor that is not one, or that matches empty text', () => {
    const attempt = (redact: unknown) => {
      try {
        createRuntime({ store: {} as Store, agents: [], redact: redact as [] });
      } catch (error) {
        return KeelError.isInstance(error) ? error.code : 'not a KeelError';
      }
      return 'created';
    };
    expect([
      attempt([{ name: 'x', pattern: 'digits' }]),
      attempt([{ name: 'empty', pattern: /\d*/ }]),
    ]).toEqual(['invalid_config', 'invalid_config']);
  });
});
