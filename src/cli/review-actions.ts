import { pc, print } from './terminal.js';
import { createApprovals, requireDecider } from '../approval/index.js';
import { canonicalJson } from '../core/index.js';
import { resolveReview, reviewItem, startChosenRoute } from '../decide/index.js';
import type { DecisionRecord } from '../store/index.js';
import { openRuntime, openStoreFromOptions, type CliGlobals } from './open-runtime.js';

export async function listReviews(
  globals: CliGlobals,
  printJson: (value: unknown) => void,
  json: boolean,
): Promise<void> {
  const store = await openStoreFromOptions(globals, { readOnly: true });
  try {
    const list = await store.decisions.list({ status: 'review' });
    if (json) printJson({ reviews: list.map(reviewItem) });
    else print(formatReviews(list));
  } finally {
    await store.close();
  }
}

export async function chooseReview(
  globals: CliGlobals,
  printJson: (value: unknown) => void,
  id: string,
  options: { choose: string; token?: string | undefined; json?: boolean | undefined },
): Promise<void> {
  const value = parseChoice(options.choose);
  const store = await openStoreFromOptions(globals);
  let resolved: DecisionRecord;
  try {
    const approver = await createApprovals({ store }).authenticate(options.token);
    requireDecider(approver);
    resolved = await resolveReview({ store, id, value, decidedBy: approver.name });
  } finally {
    await store.close();
  }
  let runId: string | undefined;
  if (resolved.kind === 'route') {
    const { runtime, close } = await openRuntime(globals);
    try {
      ({ runId } = await startChosenRoute({ runtime, decisionId: id }));
    } finally {
      await close();
    }
  }
  if (options.json) printJson({ ...reviewJson(resolved), startedRunId: runId ?? null });
  else
    print(
      `${id} ${pc.green('resolved')} as ${canonicalJson(value)} by ${resolved.decidedBy ?? '?'}${runId ? `; run ${runId} queued` : ''}`,
    );
}

/** A JSON value when it parses as one, else the text itself (`--choose billing`). */
function parseChoice(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function reviewJson(record: DecisionRecord) {
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    input: record.input,
    value: record.value,
    confidence: record.confidence,
    reason: record.reason,
    choices: record.choices,
    runId: record.runId,
    createdAt: record.createdAt,
    decidedBy: record.decidedBy,
  };
}

function formatReviews(list: readonly DecisionRecord[]): string {
  if (list.length === 0) return pc.gray('no decisions waiting for review');
  const shown = (value: unknown): string => {
    const text = canonicalJson(value ?? null);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  };
  return list
    .map((record) => {
      const item = reviewItem(record);
      const picked = item.proposed
        ? `${shown(item.proposed.value)} (confidence ${item.proposed.confidence}${item.minConfidence === null ? '' : `, below ${item.minConfidence}`})${item.proposed.reasoning ? `: ${item.proposed.reasoning}` : ''}`
        : 'nothing valid';
      const alternatives = item.alternatives
        ? item.alternatives.map((choice) => canonicalJson(choice)).join(' | ')
        : 'any value of the schema';
      return [
        `${pc.bold(item.id)}  ${pc.yellow('review')}  ${item.kind}  ${shown(item.input)}`,
        `  model picked: ${picked}`,
        `  choose: ${alternatives}; until then: ${shown(item.fallback)} (fallback)`,
      ].join('\n');
    })
    .join('\n');
}
