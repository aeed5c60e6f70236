import { describe, expect, it } from 'vitest';
import { once } from './once.js';

describe('once', () => {
  it('makes nothing until the first call, then gives the same value every time', () => {
    let made = 0;
    const value = once(() => {
      made += 1;
      return { made };
    });
    expect(made).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(made).toBe(1);
  });

  it('keeps a value that is undefined, rather than making it again', () => {
    let made = 0;
    const nothing = once(() => {
      made += 1;
      return undefined;
    });
    nothing();
    nothing();
    expect(made).toBe(1);
  });
});
