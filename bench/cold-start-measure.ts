import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOOL_CALLS_PER_RUN } from './bench-workload.js';
import { benchScript, runNode, runNodeJson, spawnFakeServer } from './child-processes.js';
import { runAlone } from './run-alone.js';
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

export interface RealColdStartResult {
  readonly spawns: number;
  /** Medians, ms from process start to the first run's result. */
  readonly keelMs: number;
  readonly bareMs: number;
  /** keel / bare, from the medians (target <= 1.15). */
  readonly ratio: number;
  /** Medians of each process's CPU time (user + system) from its start to the result. */
  readonly keelCpuMs: number;
  readonly bareCpuMs: number;
  /** keel / bare, from the CPU medians: what load on the machine blurs least. */
  readonly cpuRatio: number;
  /**
   * The same loop importing the `openai` SDK bundled into one ES module, as Keel loads its own
   * copy: what Keel adds over a loop whose SDK loads as fast. Medians, and keel / this.
   */
  readonly bundledSdk: {
    readonly bareMs: number;
    readonly bareCpuMs: number;
    readonly ratio: number;
    readonly cpuRatio: number;
  };
  readonly allSucceeded: boolean;
}

/** The cold-start ratio a model-string agent may have over the hand-written `openai` loop. */
export const REAL_COLD_START_TARGET = 1.15;

/**
 * Cold start on the real path: `cold-start-real.js keel` (an `openai-compatible:` model
 * string, SQLite file store), `… bare` (the hand-written `openai` loop) and the loop with the
 * SDK bundled as Keel bundles it, spawned in turn against the same fake server, after one
 * unmeasured spawn of each; medians.
 */
export async function measureRealColdStart({
  spawns,
  directory,
  baseURL,
}: {
  spawns: number;
  directory: string;
  baseURL: string;
}): Promise<RealColdStartResult> {
  const script = benchScript('cold-start-real.js');
  const sdk = await bundleOpenAISdk(directory);
  type Sample = { firstResultMs: number; cpuMs: number; status: string };
  type Variant = 'keel' | 'bare' | 'bundled';
  const samples: Record<Variant, Sample[]> = { keel: [], bare: [], bundled: [] };
  for (let index = -1; index < spawns; index++) {
    const dbPath = join(directory, `cold-real-${index + 1}.db`);
    const argumentsOf: Record<Variant, string[]> = {
      keel: ['keel', baseURL, dbPath],
      bare: ['bare', baseURL, dbPath],
      bundled: ['bare', baseURL, dbPath, sdk],
    };
    for (const variant of ['keel', 'bare', 'bundled'] as const) {
      const sample = await runNodeJson<Sample>([script], argumentsOf[variant]);
      if (index >= 0) samples[variant].push(sample);
    }
  }
  const medianOf = (variant: Variant, pick: (sample: Sample) => number): number =>
    round(median(samples[variant].map(pick)), 2);
  const wallMs = (variant: Variant): number => medianOf(variant, (sample) => sample.firstResultMs);
  const cpuMs = (variant: Variant): number => medianOf(variant, (sample) => sample.cpuMs);
  const [keelMs, bareMs, bundledMs] = [wallMs('keel'), wallMs('bare'), wallMs('bundled')];
  const [keelCpuMs, bareCpuMs, bundledCpuMs] = [cpuMs('keel'), cpuMs('bare'), cpuMs('bundled')];
  return {
    spawns,
    keelMs,
    bareMs,
    ratio: round(keelMs / bareMs, 2),
    keelCpuMs,
    bareCpuMs,
    cpuRatio: round(keelCpuMs / bareCpuMs, 2),
    bundledSdk: {
      bareMs: bundledMs,
      bareCpuMs: bundledCpuMs,
      ratio: round(keelMs / bundledMs, 2),
      cpuRatio: round(keelCpuMs / bundledCpuMs, 2),
    },
    allSucceeded: Object.values(samples).every((runs) =>
      runs.every((sample) => sample.status === 'succeeded'),
    ),
  };
}

/**
 * The `openai` SDK bundled into one ES module in `directory`, with the settings Keel's build
 * bundles its own copy with (scripts/bundle.mjs). Returns the file's path.
 */
async function bundleOpenAISdk(directory: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(directory, 'openai-bundled.mjs');
  await build({
    stdin: {
      contents: "export { default } from 'openai';\nexport * from 'openai';\n",
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'js',
    },
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    lineLimit: 100,
    logLevel: 'warning',
  });
  return outfile;
}

export function renderRealColdStart(result: RealColdStartResult): string {
  return `cold start, openai-compatible: model string against the fake server (median of ${result.spawns}): Keel ${result.keelMs} ms, hand-written openai loop ${result.bareMs} ms, ratio ${result.ratio} (target <= ${REAL_COLD_START_TARGET}: ${result.ratio <= REAL_COLD_START_TARGET ? 'met' : 'MISSED'}); CPU ${result.keelCpuMs} ms vs ${result.bareCpuMs} ms, ratio ${result.cpuRatio}${result.allSucceeded ? '' : ' (SOME RUNS FAILED)'}
  the same loop with the SDK bundled into one module, as Keel bundles its own: ${result.bundledSdk.bareMs} ms, ratio ${result.bundledSdk.ratio}; CPU ${result.bundledSdk.bareCpuMs} ms, ratio ${result.bundledSdk.cpuRatio}`;
}

/**
 * `node dist/bench/cold-start-measure.js [spawns] [--json]`: the real-path cold start alone
 * (7 spawns of each by default) against a fake server of its own, with the load average.
 */
await runAlone(
  import.meta.url,
  async () => {
    const spawnsArgument = Number(process.argv[2]);
    const spawns = Number.isInteger(spawnsArgument) && spawnsArgument > 0 ? spawnsArgument : 7;
    const server = await spawnFakeServer({ latencyMs: 0, toolCallsPerRun: TOOL_CALLS_PER_RUN });
    const directory = mkdtempSync(join(tmpdir(), 'keel-cold-start-'));
    const loadAverage = round(loadavg()[0] ?? 0);
    try {
      return {
        loadAverage,
        ...(await measureRealColdStart({ spawns, directory, baseURL: server.url })),
      };
    } finally {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  },
  (result) => `${renderRealColdStart(result)} (load average ${result.loadAverage} at start)`,
);
