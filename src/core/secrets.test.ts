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
