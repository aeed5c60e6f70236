import { describe, expect, it } from 'vitest';
import { quarantineRef, resolveQuarantineRefs } from './index.js';

describe('resolveQuarantineRefs', () => {
  const extracted = new Map<string, unknown>([
    ['call_0_0', { payee: 'NL91ABNA0417164300', amount: 98.7, lines: [{ text: 'power' }] }],
  ]);

  it('puts back whole values, values inside text and values in lists', () => {
    expect(quarantineRef('call_0_0', 'payee')).toBe('⟨q:call_0_0.payee⟩');
    expect(
      resolveQuarantineRefs(
        {
          to: '⟨q:call_0_0.payee⟩',
          amount: '⟨q:call_0_0.amount⟩',
          note: 'Paid ⟨q:call_0_0.lines[0].text⟩ to ⟨q:call_0_0.payee⟩',
          plain: 'no reference',
        },
        extracted,
      ),
    ).toEqual({
      ok: true,
      value: {
        to: 'NL91ABNA0417164300',
        amount: 98.7,
        note: 'Paid power to NL91ABNA0417164300',
        plain: 'no reference',
      },
    });
  });

  it('reports a reference to nothing', () => {
    expect(resolveQuarantineRefs({ to: '⟨q:call_0_0.iban⟩' }, extracted)).toEqual({
      ok: false,
      error: 'unknown reference ⟨q:call_0_0.iban⟩',
    });
    expect(resolveQuarantineRefs('see ⟨q:call_7_0⟩', extracted)).toMatchObject({ ok: false });
  });
});
