import { pc } from './terminal.js';
import { connect } from 'node:net';
import type { Agent } from '../agent/index.js';
import { KeelError, timerDelay } from '../core/index.js';
import { resolveModel, type ModelAdapterV1 } from '../model/index.js';
import { migrationProvider } from '../store/index.js';
import type { StoreInspection } from './doctor-store.js';

/** One line of `keel doctor`. */
export interface DoctorCheck {
  readonly check: DoctorCheckName;
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly detail: string;
}

/** What `keel doctor` checks, in order. */
export const DOCTOR_CHECKS = [
  'store',
  'agents',
  'keys',
  'prices',
  'otlp',
  'approvers',
  'clock',
] as const;
export type DoctorCheckName = (typeof DOCTOR_CHECKS)[number];

/** What the checks read: injected, so each can be driven in-process. */
export interface DoctorInputs {
  readonly storeUrl: string;
  readonly inspectStore: (url: string) => Promise<StoreInspection>;
  readonly loadAgents: () => Promise<{
    readonly agents: readonly Agent[];
    readonly source: string;
  }>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Opens a TCP connection and closes it; rejects when nothing answers. */
  readonly reach?: (host: string, port: number, timeoutMs: number) => Promise<void>;
  /** Largest clock difference with PostgreSQL that passes (default 2 s). */
  readonly maxClockSkewMs?: number;
}

/** Default groups approvals go to when a gate names none. */
const DEFAULT_GROUP = 'approvers';

/**
 * Check a deployment: the store reachable and migrated, keys for the models in use, prices for
 * them, the OTLP endpoint reachable, an approver for every group the gates name, and the
 * clock against PostgreSQL's. Never throws; every problem is a `failed` line.
 */
export async function runDoctor(inputs: DoctorInputs): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const store = await settle(() => inputs.inspectStore(inputs.storeUrl));
  checks.push(await storeCheck(store));
  const loaded = await settle(inputs.loadAgents);
  if (!loaded.ok) {
    checks.push({ check: 'agents', status: 'failed', detail: messageOf(loaded.error) });
    for (const check of ['keys', 'prices', 'approvers'] as const)
      checks.push({ check, status: 'skipped', detail: 'no agents loaded' });
  } else {
    const { agents, source } = loaded.value;
    checks.push({
      check: 'agents',
      status: 'ok',
      detail: `${agents.length} from ${source}: ${agents.map((agent) => agent.name).join(', ')}`,
    });
    const models = modelsInUse(agents, inputs.env);
    checks.push(keysCheck(models, inputs.env), pricesCheck(models.resolved));
    checks.push(approversCheck(agents, store.ok ? store.value : undefined));
  }
  checks.push(await otlpCheck(inputs.env, inputs.reach ?? reachTcp));
  checks.push(clockCheck(store.ok ? store.value : undefined, inputs.maxClockSkewMs ?? 2_000));
  return DOCTOR_CHECKS.flatMap((name) => checks.filter((check) => check.check === name));
}

async function storeCheck(store: Settled<StoreInspection>): Promise<DoctorCheck> {
  if (!store.ok) return { check: 'store', status: 'failed', detail: messageOf(store.error) };
  const expected = Object.keys(await migrationProvider.getMigrations());
  const applied = new Set(store.value.applied);
  const pending = expected.filter((name) => !applied.has(name));
  const unknown = store.value.applied.filter((name) => !expected.includes(name));
  const where = `${store.value.kind} ${store.value.location}`;
  if (unknown.length > 0) {
    return {
      check: 'store',
      status: 'failed',
      detail: `${where} has migrations this version of keel does not know (${unknown.join(', ')}): upgrade keel`,
    };
  }
  if (pending.length > 0) {
    return {
      check: 'store',
      status: 'failed',
      detail: `${where}: ${pending.length} of ${expected.length} migrations not applied (${listed(pending)}); any keel command that opens the store applies them`,
    };
  }
  return {
    check: 'store',
    status: 'ok',
    detail: `${where}, ${expected.length} migrations applied`,
  };
}

interface ModelsInUse {
  readonly resolved: readonly ModelAdapterV1[];
  /** `KEEL_MODEL` set, but not resolvable for some agent: why. */
  readonly overrideProblems: readonly string[];
}

/** Each agent's model with its fallbacks, or `KEEL_MODEL` in their place when it is set. */
function modelsInUse(agents: readonly Agent[], env: DoctorInputs['env']): ModelsInUse {
  const override = env.KEEL_MODEL?.trim();
  const resolved: ModelAdapterV1[] = [];
  const overrideProblems: string[] = [];
  for (const agent of agents) {
    let model = agent.model;
    if (override) {
      try {
        model = resolveModel(override, agent.model, { env, onWarning: () => undefined });
      } catch (error) {
        overrideProblems.push(`KEEL_MODEL for ${agent.name}: ${messageOf(error)}`);
        continue;
      }
    }
    resolved.push(model, ...(model.fallbacks ?? []));
  }
  const seen = new Set<string>();
  return {
    resolved: resolved.filter((model) => {
      const key = nameOf(model);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
    overrideProblems,
  };
}

function keysCheck(models: ModelsInUse, env: DoctorInputs['env']): DoctorCheck {
  const missing = [...models.overrideProblems];
  const needing: string[] = [];
  for (const model of models.resolved) {
    const needs = keyVariables(model.provider);
    if (needs.length === 0) continue;
    needing.push(nameOf(model));
    if (!needs.some((name) => (env[name] ?? '') !== '')) {
      missing.push(`${nameOf(model)} needs ${needs.join(' or ')}`);
    }
  }
  if (missing.length > 0) return { check: 'keys', status: 'failed', detail: missing.join('; ') };
  return {
    check: 'keys',
    status: 'ok',
    detail:
      needing.length === 0
        ? `no model in use needs a key (${models.resolved.map(nameOf).join(', ')})`
        : `present for ${needing.join(', ')}`,
  };
}

function keyVariables(provider: string): string[] {
  if (provider === 'anthropic') return ['ANTHROPIC_API_KEY'];
  if (provider === 'openai') return ['OPENAI_API_KEY', 'OPENAI_BASE_URL'];
  return [];
}

function pricesCheck(models: readonly ModelAdapterV1[]): DoctorCheck {
  if (models.length === 0)
    return { check: 'prices', status: 'skipped', detail: 'no model resolved' };
  const unpriced = models.filter((model) => model.price === undefined).map(nameOf);
  if (unpriced.length > 0) {
    return {
      check: 'prices',
      status: 'failed',
      detail: `no price for ${unpriced.join(', ')}: cost limits cannot be enforced; add them to keel.prices.json`,
    };
  }
  return { check: 'prices', status: 'ok', detail: `known for ${models.map(nameOf).join(', ')}` };
}

/** Every group an agent's gates send approvals to, escalation groups included. */
export function approverGroups(agents: readonly Agent[]): string[] {
  const groups = new Set<string>();
  for (const agent of agents) {
    const options = agent.gates?.options;
    if (!options) {
      // A guard's confirm verdicts go to the default group.
      if (agent.guard) groups.add(DEFAULT_GROUP);
      continue;
    }
    const routings = [
      options,
      ...Object.values(options.tools ?? {}).filter((entry) => typeof entry === 'object'),
    ];
    for (const routing of routings) {
      groups.add(routing.approverGroup ?? options.approverGroup ?? DEFAULT_GROUP);
      const expiry = routing.onExpiry;
      if (typeof expiry === 'object') groups.add(expiry.escalateTo);
    }
  }
  return [...groups].sort();
}

function approversCheck(agents: readonly Agent[], store: StoreInspection | undefined): DoctorCheck {
  const groups = approverGroups(agents);
  if (groups.length === 0) {
    return {
      check: 'approvers',
      status: 'ok',
      detail: 'no agent has gates: nothing waits for a person',
    };
  }
  if (!store)
    return { check: 'approvers', status: 'skipped', detail: 'the store could not be read' };
  const deciders = store.approvers.filter((approver) => approver.role !== 'viewer');
  const missing = groups.filter(
    (group) =>
      !deciders.some((approver) => approver.role === 'admin' || approver.groups.includes(group)),
  );
  if (missing.length > 0) {
    return {
      check: 'approvers',
      status: 'failed',
      detail: `nobody can decide for ${missing.map((group) => `"${group}"`).join(', ')}: keel approvers add <name> --group ${missing[0] ?? ''}`,
    };
  }
  return {
    check: 'approvers',
    status: 'ok',
    detail: `someone can decide for ${groups.join(', ')}`,
  };
}

/** The OTLP endpoint from the standard variables, as a host and port to reach. */
export function otlpTarget(
  env: DoctorInputs['env'],
): { host: string; port: number; shown: string } | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.split(',').some((name) => name.trim() === 'none')) return undefined;
  const shown =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!shown) return undefined;
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(shown) ? shown : `http://${shown}`);
  } catch {
    throw new KeelError('invalid_config', `OTLP endpoint "${shown}" is not a URL`);
  }
  const fallbackPort = protocol === 'grpc' ? 4317 : url.protocol === 'https:' ? 443 : 80;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || fallbackPort),
    shown,
  };
}

async function otlpCheck(
  env: DoctorInputs['env'],
  reach: NonNullable<DoctorInputs['reach']>,
): Promise<DoctorCheck> {
  let target: ReturnType<typeof otlpTarget>;
  try {
    target = otlpTarget(env);
  } catch (error) {
    return { check: 'otlp', status: 'failed', detail: messageOf(error) };
  }
  if (!target) {
    return {
      check: 'otlp',
      status: 'skipped',
      detail: 'no OTEL_EXPORTER_OTLP_ENDPOINT: traces stay in the store only',
    };
  }
  const reached = await settle(() => reach(target.host, target.port, 3_000));
  return reached.ok
    ? { check: 'otlp', status: 'ok', detail: `${target.shown} reachable` }
    : {
        check: 'otlp',
        status: 'failed',
        detail: `${target.shown} unreachable (${target.host}:${target.port}): ${messageOf(reached.error)}`,
      };
}

function clockCheck(store: StoreInspection | undefined, maxSkewMs: number): DoctorCheck {
  if (store?.clockSkewMs === undefined) {
    return {
      check: 'clock',
      status: 'skipped',
      detail: store ? 'SQLite: one machine, one clock' : 'the store could not be read',
    };
  }
  const skew = store.clockSkewMs;
  const detail = `this machine is ${Math.abs(skew)} ms ${skew > 0 ? 'behind' : 'ahead of'} PostgreSQL`;
  return Math.abs(skew) > maxSkewMs
    ? {
        check: 'clock',
        status: 'failed',
        detail: `${detail} (more than ${maxSkewMs} ms): leases and expiries depend on it; sync the clock (NTP)`,
      }
    : { check: 'clock', status: 'ok', detail };
}

/** One line per check, and the exit code: 1 when any failed. */
export function formatDoctor(checks: readonly DoctorCheck[]): string {
  const mark = { ok: pc.green('ok  '), failed: pc.red('FAIL'), skipped: pc.gray('skip') };
  return checks
    .map((check) => `${mark[check.status]}  ${check.check.padEnd(9)} ${check.detail}`)
    .join('\n');
}

function reachTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs} ms`));
    }, timerDelay(timeoutMs));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(run: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error };
  }
}

function listed(names: readonly string[]): string {
  return names.length > 3 ? `${names.slice(0, 3).join(', ')}, ...` : names.join(', ');
}

function nameOf(model: ModelAdapterV1): string {
  return `${model.provider}:${model.modelId}`;
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: unknown } | null)?.cause;
  const why = cause instanceof Error && cause.message !== message ? ` (${cause.message})` : '';
  return `${message}${why}`.replace(/\s*\n\s*/g, ' ');
}
