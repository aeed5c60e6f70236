import {
  DEFAULT_STORE_URL,
  isPassingStoreFault,
  openStore,
  type RunRecord,
  type Store,
  type StoredEvent,
} from '../store/index.js';
import { alertsVia, createRuntime, type Runtime } from '../engine/index.js';
import { resolveRunModel } from '../agent/index.js';
import {
  CAPTURE_CONTENT_ENV,
  otlpExporterFromEnv,
  traceExport,
  type RunObserver,
} from '../observe/index.js';
import { bindMcpTools } from '../mcp/index.js';
import { loadAgents, loadCandidates } from './load-agents.js';
import type { Agent } from '../agent/index.js';
import { runAsShown, type KnownSecrets } from '../journal/index.js';
import { KeelError } from '../core/index.js';
import { NOTIFY_ENV, notifierFromEnv } from './notifier-from-env.js';

export interface CliGlobals {
  readonly store?: string | undefined;
  readonly agents?: string | undefined;
}

/**
 * The store the CLI's options name. `readOnly` for commands that only read: a SQLite file that
 * does not exist is an error instead of a new empty store, and nothing is written.
 */
export async function openStoreFromOptions(
  options: CliGlobals,
  {
    readOnly = false,
    waitMs = 0,
    onWait,
  }: {
    readonly readOnly?: boolean;
    /** How long to wait for a PostgreSQL server that is restarting (see `openStore`). */
    readonly waitMs?: number;
    /** Told once, when the first try failed and the wait begins. */
    readonly onWait?: (fault: KeelError) => void;
  } = {},
): Promise<Store> {
  const url = options.store ?? DEFAULT_STORE_URL;
  if (waitMs === 0) return openStore(url, { readOnly });
  try {
    return await openStore(url, { readOnly });
  } catch (error) {
    if (!isPassingStoreFault(error)) throw error;
    onWait?.(error as KeelError);
    return openStore(url, { readOnly, waitMs });
  }
}

/** The store, the agents and a runtime over them, as the CLI's commands use them. */
export async function openRuntime(
  options: CliGlobals,
  storeOptions: Parameters<typeof openStoreFromOptions>[1] = {},
): Promise<{
  runtime: Runtime;
  storeLocation: string;
  close: () => Promise<void>;
}> {
  const { agents } = await loadAgents(options.agents);
  const notifier = notifierFromEnv();
  const store = await openStoreFromOptions(options, storeOptions);
  const alerts = notifier ? alertsVia(notifier) : undefined;
  // MCP tools from keel.config.ts were made before a store was open: they keep their pins here.
  await bindMcpTools(
    agents.flatMap((agent) => agent.tools),
    { store, ...(alerts ? { alerts: { notifier: alerts } } : {}) },
  );
  const runtime = createRuntime({
    store,
    agents,
    candidates: await shadowCandidates(store, options.agents),
    resolveModel: resolveRunModel,
    observers: observersFromEnv(),
    ...(notifier
      ? {
          approvals: { notifier, baseUrl: approvalBaseUrl() },
          alerts: { notifier: alerts ?? alertsVia(notifier) },
        }
      : {}),
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

/**
 * The candidates this process can run shadow runs with: the agents module's exported
 * candidates, and each running shadow's candidate module (as `keel shadow start` recorded it).
 */
async function shadowCandidates(store: Store, agentsModule: string | undefined): Promise<Agent[]> {
  const candidates = [...(await loadCandidates(agentsModule))];
  for (const shadow of await store.shadows.list({ active: true })) {
    if (shadow.candidateModule === null) continue;
    if (
      candidates.some(
        (agent) => agent.name === shadow.agent && agent.version === shadow.candidateVersion,
      )
    )
      continue;
    // A module that no longer loads leaves its shadow's runs to fail, saying which candidate
    // this worker lacks; the other commands go on.
    const agents = await loadAgents(shadow.candidateModule).then(
      (loaded) => loaded.agents,
      () => [] as readonly Agent[],
    );
    const candidate = agents.find(
      (agent) => agent.name === shadow.agent && agent.version === shadow.candidateVersion,
    );
    if (candidate) candidates.push(candidate);
  }
  return candidates;
}

/** OTLP trace export when the standard OTel variables name an endpoint. */
function observersFromEnv(): RunObserver[] {
  const exporter = otlpExporterFromEnv();
  if (!exporter) return [];
  const capture = process.env[CAPTURE_CONTENT_ENV]?.trim().toLowerCase() === 'true';
  return [traceExport({ exporter, spans: { captureContent: capture } })];
}

/** Where `keel serve` is reachable, for the decide link in approval notifications. */
function approvalBaseUrl(): string | undefined {
  const value = process.env[NOTIFY_ENV.approvalBaseUrl]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The secret marks of the agents `--agents` names, for views and `keel erase` to apply beside
 * those each run recorded (runs recorded before `run_started.secrets` have none). Without
 * `--agents`, nothing is loaded: a view needs no code.
 */
export async function knownSecrets(options: CliGlobals): Promise<KnownSecrets> {
  if (options.agents === undefined) return {};
  const { agents } = await loadAgents(options.agents);
  return { tools: agents.flatMap((agent) => agent.tools) };
}

/**
 * A run as `keel show` and `keel trace` print it: its journal with secrets redacted (the marks
 * recorded with the run, and the loaded agents' tools with `--agents`) unless `reveal`.
 */
export async function runForDisplay(
  store: Store,
  runId: string,
  reveal: boolean,
  options: CliGlobals,
): Promise<{
  record: RunRecord;
  entries: StoredEvent[];
  shown: <T>(value: T) => T;
}> {
  const record = await store.getRun(runId);
  if (!record) throw new KeelError('not_found', `no run ${runId} in ${store.location}`);
  return runAsShown(record, await store.readEvents(runId), reveal, await knownSecrets(options));
}
