import type { RunEvent } from '../journal/index.js';
import { systemClock, type Clock } from '../core/index.js';
import { SIMULATOR_PRICE, costOf, type ModelPrice, type PriceTable } from '../model/index.js';
import type { RunPrice, Store } from '../store/index.js';

/** Which runs to re-price, and with which prices. */
export interface RepriceRunsOptions {
  readonly store: Store;
  readonly prices: PriceTable;
  /** Runs to re-price; defaults to the newest `limit` runs. */
  readonly runIds?: readonly string[];
  readonly limit?: number;
  /** Save the new costs (`keel_run_prices`); `false` only reports them. Defaults to true. */
  readonly save?: boolean;
  readonly clock?: Clock;
}

/** One run's cost as recorded at call time and as re-computed with today's prices. */
export interface RepricedRun {
  readonly runId: string;
  readonly agent: string;
  /** Sum of the costs recorded on `model_called`; `null` when any was unknown. */
  readonly recordedUsd: number | null;
  /** Sum of the re-computed costs; `null` when any call's model has no price now. */
  readonly costUsd: number | null;
  readonly pricedCalls: number;
  readonly unpricedCalls: number;
  /** `provider:modelId` of the calls left unpriced. */
  readonly unknownModels: readonly string[];
}

/**
 * Re-price stored runs after a price change: every `model_called` is priced again from its
 * reported usage (cache reads and writes included) with `prices`, for the model that served
 * it. The journal is never rewritten; the new cost is saved beside it.
 *
 * ```ts
 * const report = await repriceRuns({ store, prices: createPriceTable({ overrides }) });
 * ```
 */
export async function repriceRuns({
  store,
  prices,
  runIds,
  limit = 1000,
  save = true,
  clock = systemClock,
}: RepriceRunsOptions): Promise<RepricedRun[]> {
  const ids = runIds ?? (await store.listRuns({ limit, shadows: 'include' })).map((run) => run.id);
  const results: RepricedRun[] = [];
  for (const runId of ids) {
    const events = (await store.readEvents(runId)).map((entry) => entry.event);
    results.push(repriceJournal(runId, events, prices));
  }
  if (save) {
    const pricedAt = clock.now();
    const rows: RunPrice[] = results.map((run) => ({
      runId: run.runId,
      costUsd: run.costUsd,
      pricedCalls: run.pricedCalls,
      unpricedCalls: run.unpricedCalls,
      pricedAt,
    }));
    await store.prices.save(rows);
  }
  return results;
}

/** Re-prices one journal; pure. */
export function repriceJournal(
  runId: string,
  events: readonly RunEvent[],
  prices: PriceTable,
): RepricedRun {
  let agent = '';
  let runModel = { provider: 'unknown', modelId: 'unknown' };
  let recorded: number | null = 0;
  let cost: number | null = 0;
  let pricedCalls = 0;
  let unpricedCalls = 0;
  const unknownModels = new Set<string>();
  for (const event of events) {
    if (event.type === 'run_started') {
      agent = event.agent;
      runModel = event.model;
    }
    if (event.type !== 'model_called') continue;
    recorded = recorded === null || event.costUsd === null ? null : recorded + event.costUsd;
    const served = event.model ?? `${runModel.provider}:${runModel.modelId}`;
    const separator = served.indexOf(':');
    const provider = served.slice(0, separator);
    const modelId = served.slice(separator + 1);
    const price = priceOf(prices, provider, modelId);
    const callCost = costOf(event.usage, price);
    if (callCost === null) {
      unpricedCalls += 1;
      unknownModels.add(served);
      cost = null;
    } else {
      pricedCalls += 1;
      if (cost !== null) cost += callCost;
    }
  }
  return {
    runId,
    agent,
    recordedUsd: recorded,
    costUsd: cost,
    pricedCalls,
    unpricedCalls,
    unknownModels: [...unknownModels],
  };
}

function priceOf(prices: PriceTable, provider: string, modelId: string): ModelPrice | undefined {
  const found = prices.lookup(provider, modelId)?.price;
  // The simulator's made-up price is part of the simulator, not of any table.
  if (!found && provider === 'simulator') return SIMULATOR_PRICE;
  return found;
}
