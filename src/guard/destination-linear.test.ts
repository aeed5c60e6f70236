import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import { looksLikeDestination, monitorCall } from './index.js';

/*
 * The monitor and the guard look at every string argument, so their checks must take time
 * linear in its length: a model-chosen 100 KB argument must not stall a worker. The fuzz
 * compares with the plain regular expressions the checks stand for, on short strings where
 * backtracking does not matter.
 */

const REFERENCE = {
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  url: /^(https?|ftp):\/\/\S+$/i,
  iban: /^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/,
};

function referenceDestination(value: string): boolean {
  const trimmed = value.trim();
  return (
    REFERENCE.email.test(trimmed) ||
    REFERENCE.url.test(trimmed) ||
    REFERENCE.iban.test(trimmed.replace(/\s+/g, ''))
  );
}

const ALPHABET = [
  'a',
  'Z',
  '0',
  '7',
  '@',
  '.',
  ' ',
  '\t',
  '/',
  ':',
  '-',
  'http',
  'https://',
  'ftp://',
  'DE',
  '89',
  'x@y.z',
];

describe('looksLikeDestination', () => {
  it('agrees with the plain expressions on 5,000 seeded strings', () => {
    const random = seededRandom(24);
    for (let index = 0; index < 5_000; index += 1) {
      let value = '';
      const parts = Math.floor(random() * 12);
      for (let part = 0; part < parts; part += 1)
        value += ALPHABET[Math.floor(random() * ALPHABET.length)] ?? '';
      expect([value, looksLikeDestination(value)]).toEqual([value, referenceDestination(value)]);
    }
  });

  it('answers adversarial 100 KB strings at once (no backtracking blow-up)', () => {
    const n = 100_000;
    const adversarial: [string, boolean][] = [
      [`a@${'.'.repeat(n)}@`, false],
      [`a@${'a.'.repeat(n / 2)} `, true],
      ['@'.repeat(n), false],
      [`https://${'a'.repeat(n)} x`, false],
      [`https://${'a'.repeat(n)}`, true],
      [`DE89${'0'.repeat(n)}`, false],
      [`${'a'.repeat(n)}g`, false],
    ];
    for (const [value, expected] of adversarial) expect(looksLikeDestination(value)).toBe(expected);
  });

  it('keeps the monitor linear on 100 KB arguments shaped to make a regex backtrack', () => {
    const n = 100_000;
    const flags = monitorCall({
      toolName: 'send_note',
      effect: 'egress',
      input: {
        at: `a@${'.'.repeat(n)}@`,
        hex: `${'a'.repeat(n)}g`,
        blob: `${'z'.repeat(63)} `.repeat(n / 64),
        token: `token${' '.repeat(n)}x`,
      },
      context: [],
      scope: ['send_note'],
    });
    expect(flags.map((flag) => [flag.argument, flag.detail])).toEqual([
      ['hex', 'a long encoded blob'],
    ]);
    const hexFlags = monitorCall({
      toolName: 'send_note',
      effect: 'egress',
      input: { hex: `id ${'ab12'.repeat(12)} end`, upper: 'Z'.repeat(70) },
      context: [],
      scope: ['send_note'],
    });
    expect(hexFlags.map((flag) => [flag.argument, flag.detail])).toEqual([
      ['hex', 'a long hex blob'],
      ['upper', 'a long encoded blob'],
    ]);
  });
});
