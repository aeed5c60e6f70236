import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import {
  shadowReport,
  type EvalAssertion,
  type PairedMetric,
  type ShadowReport,
} from '../eval/index.js';
import type { ShadowRecord } from '../store/index.js';
import { usageError } from './exit-codes.js';
import { formatUsd } from './format.js';
import { loadAgents, loadCandidates } from './load-agents.js';
import { loadSuites } from './load-suites.js';
import { openRuntime, openStoreFromOptions, type CliGlobals } from './open-runtime.js';
import { pc, print } from './terminal.js';

type PrintJson = (value: unknown) => void;

/** `keel shadow start`: the candidate from a module or by version, the shadow stored. */
export async function runShadowStart(options: {
  readonly globals: CliGlobals;
  readonly agent: string;
  readonly candidate: string;
  readonly share: number;
  readonly maxConcurrent: number;
  readonly maxCostUsd?: number | undefined;
  readonly allowLiveReads?: boolean | undefined;
  readonly json?: boolean | undefined;
  readonly printJson: PrintJson;
}): Promise<void> {
  const { agents } = await loadAgents(options.globals.agents);
  const production = agents.find((agent) => agent.name === options.agent);
  if (!production)
    throw usageError(
      `no agent "${options.agent}"; known agents: ${agents.map((agent) => agent.name).join(', ') || 'none'}`,
    );
  const { candidate, module } = await candidateOf(options.globals, production, options.candidate);
  const { runtime, close } = await openRuntime(options.globals);
  try {
    const record = await runtime.shadows.start({
      agent: production.name,
      candidate,
      share: options.share,
      maxConcurrent: options.maxConcurrent,
      maxCostUsd: options.maxCostUsd,
      allowLiveReads: options.allowLiveReads === true,
      candidateModule: module,
    });
    if (options.json) options.printJson({ shadow: record });
    else
      print(
        `${pc.bold(record.id)} shadows ${record.agent} ${production.version} with ${record.candidateVersion}: ${Math.round(record.share * 100)}% of its finished runs, at most ${record.maxConcurrent} at once${record.maxCostUsd === null ? '' : `, up to ${formatUsd(record.maxCostUsd)}`}; side effects never run. See \`keel shadow report ${record.id}\`.`,
      );
  } finally {
    await close();
  }
}

/** A module path (its agent named like production's) or a version among the exported candidates. */
async function candidateOf(
  globals: CliGlobals,
  production: Agent,
  value: string,
): Promise<{ candidate: Agent; module: string | undefined }> {
  const looksLikeModule = /\.[cm]?[jt]s$/.test(value) || value.includes('/');
  if (looksLikeModule) {
    const path = resolve(value);
    if (!existsSync(path)) throw usageError(`--candidate: module not found: ${path}`);
    const { agents } = await loadAgents(path);
    const candidate = agents.find((agent) => agent.name === production.name);
    if (!candidate)
      throw usageError(`--candidate: ${value} exports no agent named "${production.name}"`);
    return { candidate, module: path };
  }
  const candidates = await loadCandidates(globals.agents);
  const candidate = candidates.find(
    (agent) => agent.name === production.name && agent.version === value,
  );
  if (!candidate) {
    const known = candidates
      .filter((agent) => agent.name === production.name)
      .map((agent) => agent.version);
    throw usageError(
      `--candidate: no candidate of "${production.name}" at version "${value}" (exported candidates: ${known.join(', ') || 'none'}); give a module path instead`,
    );
  }
  return { candidate, module: undefined };
}

/** `keel shadow stop`: by shadow id, or every running shadow of an agent. */
export async function runShadowStop(options: {
  readonly globals: CliGlobals;
  readonly target: string;
  readonly json: boolean;
  readonly printJson: PrintJson;
}): Promise<void> {
  const store = await openStoreFromOptions(options.globals);
  try {
    const byId = await store.shadows.get(options.target);
    const targets = byId
      ? [byId]
      : await store.shadows.list({ active: true, agent: options.target });
    if (targets.length === 0)
      throw new KeelError(
        'not_found',
        `no shadow ${options.target}, and no running shadow of an agent by that name`,
      );
    const stopped: ShadowRecord[] = [];
    for (const shadow of targets) {
      const record = await store.shadows.stop(shadow.id, Date.now());
      if (record) stopped.push(record);
    }
    if (options.json) options.printJson({ shadows: stopped });
    else
      for (const record of stopped)
        print(`${record.id} stopped (${record.agent} ${record.candidateVersion})`);
  } finally {
    await store.close();
  }
}

/** `keel shadow list`. */
export async function runShadowList(options: {
  readonly globals: CliGlobals;
  readonly json: boolean;
  readonly printJson: PrintJson;
}): Promise<void> {
  const store = await openStoreFromOptions(options.globals, { readOnly: true });
  try {
    const shadows = await store.shadows.list();
    const listed = await Promise.all(
      shadows.map(async (shadow) => ({ ...shadow, usage: await store.shadows.usage(shadow.id) })),
    );
    if (options.json) {
      options.printJson({ shadows: listed });
      return;
    }
    if (listed.length === 0) print(pc.gray(`no shadows in ${store.location}`));
    for (const shadow of listed) {
      const state =
        shadow.stoppedAt === null
          ? pc.green('running')
          : pc.gray(`stopped (${shadow.stopReason ?? 'stopped'})`);
      print(
        `${pc.bold(shadow.id)}  ${shadow.agent} → ${shadow.candidateVersion}  ${state}  share ${shadow.share}  ${shadow.usage.pairs} pair(s), ${shadow.usage.active} active, ${formatUsd(shadow.usage.costUsd)}${shadow.maxCostUsd === null ? '' : ` of ${formatUsd(shadow.maxCostUsd)}`}`,
      );
    }
  } finally {
    await store.close();
  }
}

/** `keel shadow report`. */
export async function runShadowReport(options: {
  readonly globals: CliGlobals;
  readonly shadowId: string | undefined;
  readonly json: boolean;
  readonly printJson: PrintJson;
  /** Evaluation suite file(s): each pair is checked against its task's case's assertions. */
  readonly suite?: string | undefined;
}): Promise<void> {
  const assertionsFor =
    options.suite === undefined ? undefined : await suiteAssertions(options.suite);
  const store = await openStoreFromOptions(options.globals, { readOnly: true });
  try {
    if (options.shadowId !== undefined && !(await store.shadows.get(options.shadowId)))
      throw new KeelError('not_found', `no shadow ${options.shadowId} in ${store.location}`);
    const report = await shadowReport(store, { shadowId: options.shadowId, assertionsFor });
    if (options.json) options.printJson(report);
    else print(formatShadowReport(report));
  } finally {
    await store.close();
  }
}

/**
 * The assertions of the suites at `path`, by case: a pair is checked against those of the
 * cases with its production run's task and agent.
 */
async function suiteAssertions(
  path: string,
): Promise<(task: string, agent: string) => readonly EvalAssertion[] | undefined> {
  const byCase = new Map<string, EvalAssertion[]>();
  for (const { suite } of await loadSuites([path])) {
    for (const evalCase of suite.cases) {
      const key = `${evalCase.agent ?? suite.agent ?? ''}\u0000${evalCase.task}`;
      byCase.set(key, [...(byCase.get(key) ?? []), ...evalCase.expect]);
    }
  }
  return (task, agent) => byCase.get(`${agent}\u0000${task}`);
}

/** The report for people: one block per pair, one line per metric. */
export function formatShadowReport(report: ShadowReport): string {
  if (report.pairs.length === 0) return pc.gray('no shadow pairs yet');
  const lines: string[] = [];
  for (const pair of report.pairs) {
    lines.push(
      `${pc.bold(pair.production.runId)} ${pair.production.status} → ${pc.bold(pair.candidate.runId)} ${pair.candidate.status} (${pair.candidate.version ?? '?'})`,
      `  output ${pair.outputMatch ? 'same' : pc.yellow('differs')}; tools ${pair.trajectory.same ? 'same' : pc.yellow('differ')}${pair.trajectory.onlyProduction.length > 0 ? ` — only production: ${pair.trajectory.onlyProduction.join(', ')}` : ''}${pair.trajectory.onlyCandidate.length > 0 ? ` — only candidate: ${pair.trajectory.onlyCandidate.join(', ')}` : ''}`,
      `  ${pair.servedCalls} served, ${pair.suppressedCalls} suppressed, ${pair.executedSideEffects} side effects executed; would ask a human: ${pair.candidate.approvals.join(', ') || 'none'}; cost Δ ${delta(pair.costDeltaUsd, formatUsd)}, latency Δ ${delta(pair.latencyDeltaMs, (ms) => `${Math.round(ms)} ms`)}`,
    );
    if (pair.assertions) {
      const passed = (results: readonly { pass: boolean }[]) =>
        `${results.filter((result) => result.pass).length}/${results.length}`;
      lines.push(
        `  assertions passed: production ${passed(pair.assertions.production)}, candidate ${passed(pair.assertions.candidate)}`,
      );
    }
  }
  lines.push(
    '',
    `${pc.bold('side effects executed')} ${report.executedSideEffects}   ${pc.bold('calls suppressed')} ${report.suppressedCalls}`,
  );
  for (const [name, metric] of Object.entries<PairedMetric | undefined>(report.metrics)) {
    if (!metric) continue;
    lines.push(
      `${name.padEnd(16)} ${verdictText(metric.verdict)}  n=${metric.n} +${metric.wins}/-${metric.losses}/=${metric.ties}${metric.signTestP === null ? '' : ` p=${metric.signTestP.toPrecision(3)}`}${metric.ci95 === null ? '' : ` Δ95% [${metric.ci95[0].toPrecision(3)}, ${metric.ci95[1].toPrecision(3)}]`}`,
    );
  }
  return lines.join('\n');
}

function delta(value: number | null, format: (value: number) => string): string {
  if (value === null) return 'n/a';
  return `${value > 0 ? '+' : value < 0 ? '-' : ''}${format(Math.abs(value))}`;
}

function verdictText(verdict: PairedMetric['verdict']): string {
  switch (verdict) {
    case 'better':
      return pc.green('better      ');
    case 'worse':
      return pc.red('worse       ');
    case 'same':
      return 'same        ';
    case 'inconclusive':
      return pc.gray('inconclusive');
    default:
      verdict satisfies never;
      return verdict;
  }
}
