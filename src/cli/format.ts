import { pc } from './terminal.js';
import { describeReason, foldRun, type RunEvent, type RunState } from '../journal/index.js';
import type { RunResult } from '../engine/index.js';
import { runRunbook } from '../observe/index.js';
import type { RunRecord, StoredEvent, Store } from '../store/index.js';

/** Plain words about which model ran, so nobody mistakes a simulated run for a real one. */
export function describeModel(model: { provider: string; modelId: string }): string {
  if (model.provider === 'simulator') {
    return `${model.modelId} (scripted simulator, deterministic — no real model was called)`;
  }
  return `${model.provider}:${model.modelId}`;
}

const STATUS_COLOR: Record<string, (text: string) => string> = {
  succeeded: pc.green,
  failed: pc.red,
  stopped: pc.yellow,
  escalated: pc.magenta,
  cancelled: pc.gray,
  running: pc.cyan,
  queued: pc.blue,
  waiting: pc.yellow,
};

export function colorStatus(status: string): string {
  return (STATUS_COLOR[status] ?? ((text: string) => text))(status);
}

export function formatUsd(value: number): string {
  return `$${value.toFixed(value < 0.01 ? 6 : 4)}`;
}

/** The JSON document `keel run --json` prints. */
export function runJson(result: RunResult) {
  return {
    id: result.id,
    agent: result.agent,
    status: result.status,
    reason: result.reason,
    reasonText: describeReason(result.reason),
    output: result.output,
    steps: result.steps,
    usage: {
      inputTokens: result.usage.inputTokens,
      outputTokens: result.usage.outputTokens,
      costUsd: result.usage.costKnown ? roundUsd(result.usage.costUsd) : null,
    },
    model: { ...result.model, description: describeModel(result.model) },
  };
}

export function formatRunResult(result: RunResult): string {
  const cost = result.usage.costKnown
    ? formatUsd(result.usage.costUsd)
    : 'unknown (no price for this model)';
  return [
    `${pc.bold('run')}     ${result.id}  (agent ${result.agent})`,
    `${pc.bold('status')}  ${colorStatus(result.status)} — ${describeReason(result.reason)}`,
    `${pc.bold('steps')}   ${result.steps}   tokens ${result.usage.inputTokens} in / ${result.usage.outputTokens} out   cost ${cost}`,
    `${pc.bold('model')}   ${describeModel(result.model)}`,
    `${pc.bold('output')}  ${result.output ?? pc.gray('(none)')}`,
  ].join('\n');
}

/** A listed run with the totals its journal holds; `costUsd` is null when a price was unknown. */
export type ListedRun = Omit<RunRecord, 'costUsd'> & { readonly costUsd: number | null };

/** Each run's steps, tokens and cost as its journal records them (one read for all runs). */
export async function withJournalTotals(
  store: Store,
  records: readonly RunRecord[],
): Promise<ListedRun[]> {
  const journals = await store.browse.readJournals(records.map((record) => record.id));
  return records.map((record) => {
    const state = foldRun((journals.get(record.id) ?? []).map((entry) => entry.event));
    return {
      ...record,
      version: record.version ?? state.version ?? null,
      steps: state.steps,
      inputTokens: state.usage.inputTokens,
      outputTokens: state.usage.outputTokens,
      costUsd: state.usage.costKnown ? roundUsd(state.usage.costUsd) : null,
    };
  });
}

/** Dollar amounts as people write them: no binary-float tails like 0.0016979999999999999. */
export function roundUsd(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

export function formatRunsTable(records: readonly ListedRun[]): string {
  if (records.length === 0) return pc.gray('no runs yet');
  const header = ['id', 'agent', 'version', 'status', 'steps', 'tokens', 'cost', 'created'];
  const rows = records.map((record) => [
    record.id,
    record.shadowOf === null ? record.agent : `${record.agent} (shadow)`,
    record.version ?? '-',
    record.status,
    String(record.steps),
    String(record.inputTokens + record.outputTokens),
    record.costUsd === null ? 'unknown' : formatUsd(record.costUsd),
    new Date(record.createdAt).toISOString().replace('T', ' ').slice(0, 19),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  return [
    pc.bold(line(header)),
    ...rows.map((row) => line(row).replace(row[3] ?? '', colorStatus(row[3] ?? ''))),
  ].join('\n');
}

export function showJson(record: RunRecord, state: RunState, events: readonly StoredEvent[]) {
  return {
    run: {
      ...record,
      version: record.version ?? state.version ?? null,
      costUsd: roundUsd(record.costUsd),
    },
    state: {
      agent: state.agent,
      version: state.version ?? null,
      shadowOf: state.shadowOf ?? null,
      task: state.task,
      status: state.finished?.status ?? record.status,
      reason: state.finished?.reason ?? null,
      runbook: runRunbook(record.status, state.finished?.reason ?? null) ?? null,
      output: state.finished?.output ?? null,
      steps: state.steps,
      usage: {
        inputTokens: state.usage.inputTokens,
        outputTokens: state.usage.outputTokens,
        costUsd: state.usage.costKnown ? roundUsd(state.usage.costUsd) : null,
      },
      claims: state.claims,
      pendingToolCalls: state.pending.map((call) => ({ callId: call.callId, tool: call.toolName })),
    },
    events: events.map((entry) => ({ seq: entry.seq, at: entry.at, ...entry.event })),
  };
}

export function formatShow(
  record: RunRecord,
  state: RunState,
  events: readonly StoredEvent[],
): string {
  const reason = state.finished ? describeReason(state.finished.reason) : pc.gray('(in progress)');
  const lines = [
    `${pc.bold('run')}     ${record.id}  (agent ${record.agent}${versionNote(record.version ?? state.version ?? null)}, claimed ${record.claims}x)`,
    ...(state.shadowOf === undefined
      ? []
      : [`${pc.bold('shadow')}  of ${state.shadowOf}: its side effects never ran`]),
    `${pc.bold('task')}    ${state.task}`,
    `${pc.bold('status')}  ${colorStatus(record.status)} — ${reason}`,
    ...runbookLine(runRunbook(record.status, state.finished?.reason ?? null)),
    `${pc.bold('usage')}   ${state.steps} steps, ${state.usage.inputTokens} in / ${state.usage.outputTokens} out, ${state.usage.costKnown ? formatUsd(state.usage.costUsd) : 'cost unknown (no price for this model)'}`,
    `${pc.bold('output')}  ${state.finished?.output ?? pc.gray('(none)')}`,
    '',
    pc.bold('journal'),
  ];
  const start = events[0]?.at ?? 0;
  for (const entry of events) {
    const offset = `+${((entry.at - start) / 1000).toFixed(3)}s`.padStart(10);
    lines.push(
      `${String(entry.seq).padStart(4)} ${pc.gray(offset)}  ${summarizeEvent(entry.event)}`,
    );
  }
  return lines.join('\n');
}

function versionNote(version: string | null): string {
  return version === null ? '' : ` version ${version}`;
}

function runbookLine(runbook: string | undefined): string[] {
  return runbook === undefined ? [] : [`${pc.bold('runbook')} ${runbook}`];
}

/** One line per journal event, for people. */
export function summarizeEvent(event: RunEvent): string {
  switch (event.type) {
    case 'run_started':
      return `${pc.bold('run_started')} agent=${event.agent}${event.version === undefined ? '' : ` version=${event.version}`}${event.shadowOf === undefined ? '' : ` shadowOf=${event.shadowOf}`} model=${event.model.provider}:${event.model.modelId}`;
    case 'run_claimed':
      return `${pc.bold('run_claimed')} by ${event.workerId} (claim ${event.claim})`;
    case 'model_called': {
      const calls = event.content
        .filter((part) => part.type === 'tool_call')
        .map((part) => part.toolName);
      const what = calls.length > 0 ? `→ ${calls.join(', ')}` : '→ final answer';
      const servedBy = event.model ? ` by ${event.model}` : '';
      return `${pc.bold('model_called')} step ${event.step}${servedBy} ${what} (${event.usage.inputTokens}+${event.usage.outputTokens} tokens, input estimated ${event.estimatedInputTokens}, ${event.latencyMs} ms, ${event.provenance.trust})`;
    }
    case 'model_failed':
      return `${pc.yellow('model_failed')} step ${event.step} attempt ${event.attempt}: ${event.errorType}${event.fallbackTo ? ` (falling back to ${event.fallbackTo})` : event.willRetry ? ' (will retry)' : ''}`;
    case 'tool_requested':
      return `${pc.bold('tool_requested')} ${event.toolName} ${truncate(JSON.stringify(event.input), 80)} [${event.effect}]`;
    case 'tool_rejected':
      return `${pc.yellow('tool_rejected')} ${event.toolName}: ${event.error.type}: ${truncate(event.error.message, 100)}`;
    case 'tool_started':
      return `${pc.bold('tool_started')} ${event.toolName} attempt ${event.attempt} key=${event.idempotencyKey}${event.reissued ? pc.yellow(' (re-issued after a crash)') : ''}`;
    case 'tool_finished':
      return `${pc.green('tool_finished')} ${event.toolName} ${truncate(event.content, 80)} [${event.provenance.trust}]${event.cache ? ` (cache ${event.cache})` : ''}${event.degraded ? ` (fallback for ${event.degraded.type})` : ''}`;
    case 'tool_failed':
      return `${pc.red('tool_failed')} ${event.toolName} attempt ${event.attempt}: ${event.error.type}: ${truncate(event.error.message, 80)}${event.final ? '' : ` (will retry${event.retryInMs === undefined ? '' : ` in ${event.retryInMs} ms`})`}`;
    case 'run_released':
      return `${pc.gray('run_released')} by ${event.workerId} (handed back to the queue)`;
    case 'model_output_rejected':
      return `${pc.yellow('model_output_rejected')} step ${event.step}: ${event.reason} (fed back)`;
    case 'limit_hit':
      return `${pc.yellow('limit_hit')} ${event.limit} (${event.used} of ${event.max})`;
    case 'cancel_requested':
      return `${pc.gray('cancel_requested')} by ${event.by}`;
    case 'approval_requested':
      return `${pc.yellow('approval_requested')} ${event.toolName} ${event.approvalId} group=${event.approverGroup} hash=${event.argsHash}`;
    case 'run_suspended':
      return `${pc.gray('run_suspended')} by ${event.workerId}: waiting on ${event.approvalIds.join(', ')} (no lease held)`;
    case 'approval_decided':
      return `${event.decision === 'approved' ? pc.green('approval_decided') : pc.red('approval_decided')} ${event.toolName} ${event.decision} by ${event.decidedBy}${event.editedInput === undefined ? '' : ' (arguments edited)'}${event.reason ? `: ${truncate(event.reason, 60)}` : ''}`;
    case 'context_assembled':
      return `${pc.gray('context_assembled')} step ${event.step}: ${event.totalTokens} of ${event.budgetTokens} tokens${event.compressed ? ` (${event.summarisedSteps} steps summarised, ${event.recalled.length} recalled)` : ''}${event.trigger === 'context_too_long' ? pc.yellow(' after context_too_long') : ''}`;
    case 'step_summarised':
      return `${event.fallback ? pc.yellow('step_summarised') : pc.gray('step_summarised')} step ${event.summarisedStep} by ${event.by}${event.model ? ` (${event.model})` : ''}${event.fallback ? `: summariser failed (${event.fallback.errorType}), deterministic line used` : ''}${event.provenance.trust === 'untrusted' ? ' [untrusted]' : ''}`;
    case 'guard_verdict':
      return `${event.verdict === 'allow' ? pc.gray('guard_verdict') : pc.yellow('guard_verdict')} ${event.toolName} ${event.verdict} (${event.policy}: ${event.rule})`;
    case 'decision_recorded':
      return `${pc.gray('decision_recorded')} ${event.toolName} ${event.decisionId}: ${summarizeDecisionEntry(event.entry)}`;
    case 'injection_signal':
      return `${event.score >= event.threshold ? pc.yellow('injection_signal') : pc.gray('injection_signal')} ${event.toolName} score ${event.score} (${event.matches.join(', ')})${event.score >= event.threshold ? ': consequential calls now need a human' : ''}`;
    case 'tool_quarantined':
      return `${pc.gray('tool_quarantined')} ${event.toolName}: the model sees ${truncate(event.view, 80)}${event.error === undefined ? '' : pc.yellow(` (reader: ${truncate(event.error, 60)})`)}`;
    case 'action_flagged':
      return `${pc.yellow('action_flagged')} ${event.toolName}: ${event.flags.map((flag) => `${flag.kind}${flag.argument === undefined ? '' : ` ${flag.argument}`}`).join(', ')}`;
    case 'intent_planned':
      return `${pc.gray('intent_planned')} ${event.tools === undefined ? pc.yellow(`no plan (${truncate(event.error ?? 'no answer', 60)})`) : `the task asks for ${event.tools.join(', ') || 'no consequential tool'}`}`;
    case 'answer_held':
      return `${pc.yellow('answer_held')} the final answer waits for a person: ${truncate(event.output, 80)}`;
    case 'answer_guarded':
      return `${event.findings.length > 0 ? pc.yellow('answer_guarded') : pc.gray('answer_guarded')} ${event.findings.map((finding) => `${finding.kind} ${finding.destination} ${finding.action}`).join(', ') || 'no links to act on'}; ${event.spans.length} span(s) from untrusted content`;
    case 'tool_intercepted':
      return `${event.action === 'suppressed' ? pc.yellow('tool_suppressed') : pc.gray('tool_served')} ${event.toolName} [${event.effect}]: ${truncate(event.detail, 80)}`;
    case 'shadow_suppressed':
      return `${pc.yellow('shadow_suppressed')} ${event.toolName} [${event.effect}] ${truncate(JSON.stringify(event.input) ?? 'null', 60)}: ${truncate(event.reason, 60)}`;
    case 'would_need_approval':
      return `${pc.yellow('would_need_approval')} ${event.toolName} (${event.approverGroup}) ${truncate(JSON.stringify(event.input) ?? 'null', 60)}`;
    case 'run_finished':
      return `${pc.bold('run_finished')} ${colorStatus(event.status)}: ${describeReason(event.reason)}`;
    default:
      event satisfies never;
      return 'unknown event';
  }
}

/** A decision's journal entry, in a few words. */
function summarizeDecisionEntry(
  entry: Extract<RunEvent, { type: 'decision_recorded' }>['entry'],
): string {
  switch (entry.type) {
    case 'decision_started':
      return `started on ${entry.model} (votes ${entry.votes}, retries ${entry.retries})`;
    case 'decision_cache_hit':
      return `cache hit (${entry.decisionId})`;
    case 'decision_attempt':
      return `attempt ${entry.attempt} of vote ${entry.vote}${entry.error === undefined ? '' : pc.yellow(` rejected: ${truncate(entry.error, 60)}`)}`;
    case 'decision_vote':
      return `vote ${entry.vote}: ${truncate(JSON.stringify(entry.value), 40)} (${entry.confidence})`;
    case 'decision_made':
      return `${truncate(JSON.stringify(entry.value), 40)} confidence ${entry.confidence} (${entry.agreement[0]}/${entry.agreement[1]} agree)`;
    case 'decision_review_requested':
      return pc.yellow(
        `review requested (confidence ${entry.confidence} < ${entry.minConfidence})`,
      );
    case 'decision_resolved':
      return `resolved by ${entry.decidedBy}: ${truncate(JSON.stringify(entry.value), 40)}`;
    case 'decision_fallback':
      return pc.yellow(`fallback (confidence ${entry.confidence}): ${truncate(entry.reason, 60)}`);
    default:
      entry satisfies never;
      return 'unknown';
  }
}

/** One line of at most `max` characters: journal summaries never wrap or break lines. */
function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}
