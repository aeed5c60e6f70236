import { print, writeOut } from './terminal.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KeelError } from '../core/index.js';
import { repriceRuns, type RepricedRun } from '../engine/index.js';
import { DEFAULT_PRICE_FILE, createPriceTable, loadPriceOverrides } from '../model/index.js';
import { openStoreFromOptions, type CliGlobals } from './open-runtime.js';

export interface PricesRecomputeOptions {
  readonly globals: CliGlobals;
  /** Override file; defaults to `keel.prices.json` in the working directory when present. */
  readonly prices?: string | undefined;
  readonly runIds: readonly string[];
  readonly limit: number;
  readonly dryRun: boolean;
  readonly json: boolean;
}

/** `keel prices recompute`: re-price stored runs with the current price table. */
export async function runPricesRecompute(options: PricesRecomputeOptions): Promise<void> {
  const file =
    options.prices === undefined
      ? [resolve(DEFAULT_PRICE_FILE)].find((path) => existsSync(path))
      : resolve(options.prices);
  const overrides = file === undefined ? [] : loadPriceOverrides(file);
  const prices = createPriceTable({ overrides });
  const store = await openStoreFromOptions(options.globals);
  try {
    // Every named run must exist before anything is saved: re-pricing an unknown id would store
    // a price row for no run.
    for (const runId of options.runIds)
      if ((await store.getRun(runId)) === undefined)
        throw new KeelError('not_found', `no run ${runId} in ${store.location}`);
    const runs = await repriceRuns({
      store,
      prices,
      limit: options.limit,
      save: !options.dryRun,
      ...(options.runIds.length > 0 ? { runIds: options.runIds } : {}),
    });
    if (options.json) {
      writeOut(
        `${JSON.stringify({ priceFile: file ?? null, saved: !options.dryRun, runs }, null, 2)}\n`,
      );
      return;
    }
    print(formatRepriced(runs, file, !options.dryRun));
  } finally {
    await store.close();
  }
}

function usd(value: number | null): string {
  return value === null ? 'unknown' : `$${value.toFixed(6)}`;
}

function formatRepriced(
  runs: readonly RepricedRun[],
  file: string | undefined,
  saved: boolean,
): string {
  const lines = [
    `prices: ${file ?? 'defaults (@pydantic/genai-prices)'}; ${runs.length} run(s) ${saved ? 're-priced and saved' : 're-priced (dry run, nothing saved)'}`,
  ];
  for (const run of runs) {
    const unknown =
      run.unknownModels.length > 0 ? `; no price for ${run.unknownModels.join(', ')}` : '';
    lines.push(
      `  ${run.runId}  ${run.agent.padEnd(12)} recorded ${usd(run.recordedUsd).padStart(11)}  now ${usd(run.costUsd).padStart(11)}  (${run.pricedCalls} priced, ${run.unpricedCalls} unpriced${unknown})`,
    );
  }
  return lines.join('\n');
}
