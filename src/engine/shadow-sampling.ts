import { createHash } from 'node:crypto';

/**
 * Whether a production run is in a shadow's sample: a hash of its id, read as a number in
 * [0, 1), is below `share`. The same run is in or out on every worker and every restart.
 *
 * ```ts
 * inShadowSample('run_lx2k9a0b1c2d3e4f', 0.2) // true or false, always the same
 * ```
 */
export function inShadowSample(runId: string, share: number): boolean {
  const head = createHash('sha256').update(runId).digest().readUInt32BE(0);
  return head / 0x1_0000_0000 < share;
}
