import { join } from 'node:path';
import { benchScript, runNodeJson } from './child-processes.js';
import type { BurstMode, BurstOptions, BurstResult } from './concurrent-burst.js';
import { median, round } from './stats.js';

export interface ConcurrentModeSummary {
  /** Medians over the rounds. */
  readonly totalSeconds: number;
  readonly peakRssDeltaMb: number;
  /** (peak RSS − baseline RSS) / runs, KB = 1024 bytes. */
  readonly kbPerInFlightRun: number;
  readonly peakHeapDeltaMb: number;
  /** Runs that succeeded, in the worst round. */
  readonly succeeded: number;
  readonly allSucceeded: boolean;
  readonly rounds: readonly BurstResult[];
}

export interface ConcurrentResult {
  readonly runs: number;
  readonly latencyMs: number;
  /** 6 sequential model calls at `latencyMs` each: no run can end sooner. */
  readonly floorSeconds: number;
  readonly keel: ConcurrentModeSummary;
  readonly bare: ConcurrentModeSummary;
}

/**
 * Each burst runs in a fresh `node --expose-gc` process, alternating bare and Keel, so
 * neither inherits the other's heap and both see the same fake server.
 */
export async function measureConcurrent({
  baseURL,
  runs,
  rounds,
  warmupRuns,
  latencyMs,
  modelCallsPerRun,
  directory,
}: {
  baseURL: string;
  runs: number;
  rounds: number;
  warmupRuns: number;
  latencyMs: number;
  modelCallsPerRun: number;
  directory: string;
}): Promise<ConcurrentResult> {
  const results: Record<BurstMode, BurstResult[]> = { bare: [], keel: [] };
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 === 0
      ? (['bare', 'keel'] as const)
      : (['keel', 'bare'] as const)) {
      const options: BurstOptions = {
        mode,
        baseURL,
        runs,
        warmupRuns,
        dbPath: join(directory, `burst-${round}.db`),
        sampleEveryMs: 20,
      };
      const result = await runNodeJson<BurstResult>(
        ['--expose-gc', benchScript('concurrent-process.js')],
        [JSON.stringify(options)],
      );
      results[mode].push(result);
    }
  }
  return {
    runs,
    latencyMs,
    floorSeconds: (latencyMs * modelCallsPerRun) / 1000,
    keel: summarizeMode(results.keel),
    bare: summarizeMode(results.bare),
  };
}

function summarizeMode(rounds: readonly BurstResult[]): ConcurrentModeSummary {
  const mb = (bytes: number): number => bytes / (1024 * 1024);
  const succeeded = Math.min(...rounds.map((result) => result.statuses.succeeded ?? 0));
  return {
    totalSeconds: round(median(rounds.map((result) => result.totalSeconds)), 3),
    peakRssDeltaMb: round(
      median(rounds.map((result) => mb(result.peakRssBytes - result.baselineRssBytes))),
      1,
    ),
    kbPerInFlightRun: round(
      median(
        rounds.map(
          (result) => (result.peakRssBytes - result.baselineRssBytes) / 1024 / result.runs,
        ),
      ),
      1,
    ),
    peakHeapDeltaMb: round(
      median(rounds.map((result) => mb(result.peakHeapUsedBytes - result.baselineHeapUsedBytes))),
      1,
    ),
    succeeded,
    allSucceeded: rounds.every((result) => (result.statuses.succeeded ?? 0) === result.runs),
    rounds,
  };
}
