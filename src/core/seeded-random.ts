/**
 * Deterministic pseudo-random numbers in [0, 1) from a 32-bit seed (mulberry32): the same seed
 * gives the same sequence on every run and platform.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function random(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}
