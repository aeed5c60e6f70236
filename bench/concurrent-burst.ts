import { createRuntime, openStore } from '../src/index.js';
import { AGENT_NAME, bareLoop, bareRunSucceeded, benchAgent } from './bench-workload.js';

export const BURST_MODES = ['bare', 'keel'] as const;
export type BurstMode = (typeof BURST_MODES)[number];

export interface BurstOptions {
  readonly mode: BurstMode;
  readonly baseURL: string;
  readonly runs: number;
  readonly warmupRuns: number;
  /** For `keel`: the SQLite file of a fresh store (synchronous=FULL). */
  readonly dbPath: string;
  readonly sampleEveryMs: number;
}

export interface BurstResult {
  readonly mode: BurstMode;
  readonly runs: number;
  readonly totalSeconds: number;
  /** How many runs `succeeded` and how many ended otherwise (`error`). */
  readonly statuses: Readonly<Record<string, number>>;
  readonly firstError: string | undefined;
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
  readonly peakHeapUsedBytes: number;
  readonly baselineHeapUsedBytes: number;
  readonly samples: number;
  readonly gcAvailable: boolean;
}

/**
 * Starts `runs` runs at once and waits for all of them, sampling RSS to find the peak. Meant
 * to run alone in a fresh process (`node --expose-gc concurrent-process.js`), so the baseline
 * is not inflated by other measurements.
 */
export async function measureBurst({
  mode,
  baseURL,
  runs,
  warmupRuns,
  dbPath,
  sampleEveryMs,
}: BurstOptions): Promise<BurstResult> {
  /** Resolves to the run's status, or throws with why it did not end as scripted. */
  let runOne: (task: string) => Promise<string>;
  let close = (): Promise<void> => Promise.resolve();
  if (mode === 'keel') {
    const store = await openStore(`sqlite:${dbPath}`);
    const runtime = createRuntime({ store, agents: [benchAgent(baseURL)] });
    runOne = async (task) => {
      const result = await runtime.run(AGENT_NAME, task);
      if (result.status !== 'succeeded') {
        throw new Error(`run ${result.status}: ${JSON.stringify(result.reason)}`);
      }
      return result.status;
    };
    close = async () => {
      await runtime.close();
      await store.close();
    };
  } else {
    const bare = bareLoop(baseURL);
    runOne = async (task) => {
      const result = await bare(task);
      if (!bareRunSucceeded(result)) throw new Error(`unexpected shape: ${JSON.stringify(result)}`);
      return 'succeeded';
    };
  }

  try {
    await Promise.all(
      Array.from({ length: warmupRuns }, (_, index) =>
        runOne(`Look up the items (warm-up ${index})`),
      ),
    );
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let index = 0; index < 3; index++) gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const baseline = process.memoryUsage();
    const maxRssBefore = process.resourceUsage().maxRSS * 1024;

    let peakRss = baseline.rss;
    let peakHeapUsed = baseline.heapUsed;
    let samples = 0;
    const sampler = setInterval(() => {
      const usage = process.memoryUsage();
      peakRss = Math.max(peakRss, usage.rss);
      peakHeapUsed = Math.max(peakHeapUsed, usage.heapUsed);
      samples += 1;
    }, sampleEveryMs);

    const statuses: Record<string, number> = {};
    let firstError: string | undefined;
    const startedAt = performance.now();
    await Promise.all(
      Array.from({ length: runs }, async (_, index) => {
        let status: string;
        try {
          status = await runOne(`Look up the items (run ${index})`);
        } catch (error) {
          status = 'error';
          firstError ??= describeError(error);
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
      }),
    );
    const totalSeconds = (performance.now() - startedAt) / 1000;
    clearInterval(sampler);
    // The kernel's high-water mark catches a peak between two samples, if it is a new one.
    const maxRssAfter = process.resourceUsage().maxRSS * 1024;
    if (maxRssAfter > maxRssBefore) peakRss = Math.max(peakRss, maxRssAfter);
    const end = process.memoryUsage();
    peakRss = Math.max(peakRss, end.rss);

    return {
      mode,
      runs,
      totalSeconds,
      statuses,
      firstError,
      baselineRssBytes: baseline.rss,
      peakRssBytes: peakRss,
      baselineHeapUsedBytes: baseline.heapUsed,
      peakHeapUsedBytes: Math.max(peakHeapUsed, end.heapUsed),
      samples,
      gcAvailable: gc !== undefined,
    };
  } finally {
    await close();
  }
}

/** The message and its chain of causes: "Connection error. <- fetch failed <- connect ...". */
function describeError(error: unknown): string {
  const messages: string[] = [];
  let current = error;
  while (current !== undefined && messages.length < 5) {
    messages.push(current instanceof Error ? current.message : JSON.stringify(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(' <- ');
}
