import { describe, expect, it } from 'vitest';
import { redactSecrets, redactors } from './secrets.js';

const cards = { redactors: [redactors.cardNumber] };

describe('redactSecrets with a checked pattern', () => {
  it('finds a card number followed by more digits, which fail the checksum as one run', () => {
    const text = redactSecrets('paid with 4111 1111 1111 1111 22 today', cards);
    expect(text).toBe('paid with [redacted:card_number] 22 today');
  });

  it('finds a card number after other digits', () => {
    const text = redactSecrets('ref 7 4111-1111-1111-1111', cards);
    expect(text).toBe('ref 7 [redacted:card_number]');
  });

  it('leaves a digit run no part of which passes the checksum', () => {
    const text = redactSecrets('order 1111 1111 1111 1111 1', cards);
    expect(text).toBe('order 1111 1111 1111 1111 1');
  });

  it('redacts a card number on its own, as before', () => {
    expect(redactSecrets({ note: 'card 4111111111111111' }, cards)).toEqual({
      note: 'card [redacted:card_number]',
    });
  });
});

describe('redactSecrets across a value', () => {
  it('finds every match in every string of it, and fields by path inside lists', () => {
    const value = {
      a: 'card 4111111111111111',
      b: ['also 4111 1111 1111 1111', { c: 'and 123-45-6789 here' }],
      cards: [{ number: 'x', label: 'kept' }],
    };
    const before = structuredClone(value);
    expect(
      redactSecrets(value, {
        paths: ['cards[].number'],
        redactors: [redactors.cardNumber, redactors.nationalId],
      }),
    ).toEqual({
      a: 'card [redacted:card_number]',
      b: ['also [redacted:card_number]', { c: 'and [redacted:national_id] here' }],
      cards: [{ number: '[redacted]', label: 'kept' }],
    });
    expect(value).toEqual(before);
  });

  it("replaces every match of a user's pattern written without the g flag", () => {
    const ticket = { name: 'ticket', pattern: /TCK-\d{4}/ };
    expect(
      redactSecrets(
        { a: 'TCK-1234 then TCK-5678', b: ['TCK-0001', 'TCK-0002 TCK-0003'] },
        {
          redactors: [ticket],
        },
      ),
    ).toEqual({
      a: '[redacted:ticket] then [redacted:ticket]',
      b: ['[redacted:ticket]', '[redacted:ticket] [redacted:ticket]'],
    });
  });

  it('copies a value with nothing to look for, and redacts known values anywhere', () => {
    const value = { note: 'token abcd1234 sent', list: [{ at: 1 }] };
    const copy = redactSecrets(value, {}) as typeof value;
    expect(copy).toEqual(value);
    expect(copy).not.toBe(value);
    expect(copy.list[0]).not.toBe(value.list[0]);
    expect(redactSecrets(value, { values: ['abc'] })).toEqual(value);
    expect(redactSecrets(value, { values: ['abcd1234'] })).toEqual({
      note: 'token [redacted] sent',
      list: [{ at: 1 }],
    });
  });
});
