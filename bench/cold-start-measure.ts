import { join } from 'node:path';
import { benchScript, runNode, runNodeJson } from './child-processes.js';
import { median, round } from './stats.js';

interface ColdStartSample {
  readonly processStartToCodeMs: number;
  readonly importMs: number;
  readonly importedMs: number;
  readonly storeOpenedMs: number;
  readonly firstRunMs: number;
  readonly status: string;
  readonly wallMs: number;
}

export interface ColdStartResult {
  readonly spawns: number;
  /** Medians, in ms. From the process's time origin (its start) to the first run's result. */
  readonly firstRunMs: number;
  /** The phases of `firstRunMs` (each a median, so they need not add up exactly). */
  readonly processStartToCodeMs: number;
  readonly importMs: number;
  readonly storeOpenMs: number;
  readonly defineAndRunMs: number;
  readonly spawnToExitMs: number;
  readonly nodeBaselineSpawnToExitMs: number;
  readonly allSucceeded: boolean;
}

/**
 * Spawns `cold-start.js` and `node -e 0` alternately (after one unmeasured spawn of each, so
 * both start from a warm page cache) and takes medians.
 */
export async function measureColdStart({
  spawns,
  directory,
}: {
  spawns: number;
  directory: string;
}): Promise<ColdStartResult> {
  const script = benchScript('cold-start.js');
  const samples: ColdStartSample[] = [];
  const baselineMs: number[] = [];
  for (let index = -1; index < spawns; index++) {
    const dbPath = join(directory, `cold-${index + 1}.db`);
    const sample = await runNodeJson<Omit<ColdStartSample, 'wallMs'>>([script], [dbPath]);
    const baseline = await runNode(['-e', '0']);
    if (index < 0) continue;
    samples.push(sample);
    baselineMs.push(baseline.wallMs);
  }
  const medianOf = (pick: (sample: ColdStartSample) => number): number =>
    round(median(samples.map(pick)), 2);
  return {
    spawns,
    firstRunMs: medianOf((sample) => sample.firstRunMs),
    processStartToCodeMs: medianOf((sample) => sample.processStartToCodeMs),
    importMs: medianOf((sample) => sample.importMs),
    storeOpenMs: medianOf((sample) => sample.storeOpenedMs - sample.importedMs),
    defineAndRunMs: medianOf((sample) => sample.firstRunMs - sample.storeOpenedMs),
    spawnToExitMs: medianOf((sample) => sample.wallMs),
    nodeBaselineSpawnToExitMs: round(median(baselineMs), 2),
    allSucceeded: samples.every((sample) => sample.status === 'succeeded'),
  };
}
