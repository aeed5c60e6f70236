import { DEFAULT_STORE_URL, openStore, type Store } from '../store/index.js';
import { createRuntime, type Runtime } from '../engine/index.js';
import { resolveModel } from '../model/index.js';
import {
  CAPTURE_CONTENT_ENV,
  otlpExporterFromEnv,
  traceExport,
  type RunObserver,
} from '../observe/index.js';
import { loadAgents } from './load-agents.js';

export interface CliGlobals {
  readonly store?: string | undefined;
  readonly agents?: string | undefined;
}

export function openStoreFromOptions(options: CliGlobals): Promise<Store> {
  return openStore(options.store ?? DEFAULT_STORE_URL);
}

/** The store, the agents and a runtime over them, as the CLI's commands use them. */
export async function openRuntime(options: CliGlobals): Promise<{
  runtime: Runtime;
  storeLocation: string;
  close: () => Promise<void>;
}> {
  const { agents } = await loadAgents(options.agents);
  const store = await openStoreFromOptions(options);
  const runtime = createRuntime({
    store,
    agents,
    resolveModel: (spec, agent) => resolveModel(spec, agent.model),
    observers: observersFromEnv(),
  });
  return {
    runtime,
    storeLocation: store.location,
    async close() {
      await runtime.close();
      await store.close();
    },
  };
}

/** OTLP trace export when the standard OTel variables name an endpoint. */
function observersFromEnv(): RunObserver[] {
  const exporter = otlpExporterFromEnv();
  if (!exporter) return [];
  const capture = process.env[CAPTURE_CONTENT_ENV]?.trim().toLowerCase() === 'true';
  return [traceExport({ exporter, spans: { captureContent: capture } })];
}
