/**
 * A support-desk worker in its own process, for the demo's resume scenario: it claims queued
 * runs from the store and executes them until it is stopped (SIGTERM, SIGINT) or killed.
 *
 *   node worker-process.js --store sqlite:.keel/demo.db --lease-ms 1000 --ledger /tmp/ledger.jsonl [--slow]
 *
 * Each option can also come from the environment: KEEL_STORE, KEEL_LEASE_MS,
 * KEEL_SUPPORT_DESK_LEDGER. `--slow` gives the backend a slow day (SLOW_LATENCY_MS).
 */
import { parseArgs } from 'node:util';
import { createRuntime, openStore } from '../../src/index.js';
import { SLOW_LATENCY_MS, SupportBackend } from './backend.js';
import { createSupportDeskAgents } from './agents.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string' },
    'lease-ms': { type: 'string' },
    ledger: { type: 'string' },
    slow: { type: 'boolean', default: false },
  },
});

const storeUrl = values.store ?? process.env.KEEL_STORE;
const leaseMs = Number(values['lease-ms'] ?? process.env.KEEL_LEASE_MS ?? 15_000);
const ledgerPath = values.ledger ?? process.env.KEEL_SUPPORT_DESK_LEDGER;
if (storeUrl === undefined || !Number.isFinite(leaseMs) || leaseMs <= 0) {
  console.error('usage: worker-process --store <url> [--lease-ms <ms>] [--ledger <path>] [--slow]');
  process.exit(2);
}

const backend = new SupportBackend({
  ledgerPath,
  latencyMs: values.slow ? SLOW_LATENCY_MS : undefined,
});
const store = await openStore(storeUrl);
const runtime = createRuntime({
  store,
  agents: createSupportDeskAgents(backend),
  leaseMs,
  workerId: `support-desk-worker:${String(process.pid)}`,
});
const worker = runtime.startWorker({
  pollMs: 50,
  onError: (runId, error) => {
    console.error(
      `run ${runId || '(claim)'}: ${error instanceof Error ? error.message : String(error)}`,
    );
  },
});
console.log(`worker ${worker.workerId} ready (lease ${String(leaseMs)} ms)`);

async function shutdown(): Promise<void> {
  await worker.stop();
  await runtime.close();
  await store.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
