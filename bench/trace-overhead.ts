// Tracing overhead per span: deriving a run's spans from its journal (with each call's cost
// computed from its usage, as the engine does) and encoding them as an OTLP protobuf request,
// which is all the work tracing adds to a run — the journal is written anyway, and export
// happens off the run's path. Measured in process, in blocks, after a warm-up; the baseline
// in the same run is what the journal already pays for the same events (JSON text of each).
import { encodeTraceRequest } from '../src/observe/index.js';
import { costTotals, spansFromJournal, type JournalEntry } from '../src/exports/observe.js';
import { SIMULATOR_PRICE, costOf } from '../src/model/index.js';
import { round } from './stats.js';

export const TRACE_OVERHEAD_TARGET_US = 25;

export interface TraceOverheadResult {
  readonly spansPerRun: number;
  /** Median µs per span: derive + cost + protobuf encode, no content. */
  readonly perSpanUs: number;
  /** The same with content captured (8 KiB truncation). */
  readonly perSpanWithContentUs: number;
  /** Baseline: µs per journal event to serialise it as the store does (JSON). */
  readonly journalJsonPerEventUs: number;
  readonly target: number;
  readonly within: boolean;
}

const STEPS = 6;
const BLOCKS = 60;
const ITERATIONS_PER_BLOCK = 100;

/** A journal like the bench workload's: 6 model steps, 5 of them with one tool call. */
export function workloadJournal(): JournalEntry[] {
  const events: Record<string, unknown>[] = [
    {
      type: 'run_started',
      agent: 'bench',
      task: 'Look up items 1 to 5 and summarise their stock.',
      model: { provider: 'openai', modelId: 'bench' },
      limits: {},
      startedAt: 1_764_000_000_000,
    },
    { type: 'run_claimed', workerId: 'bench:1', claim: 1 },
  ];
  for (let step = 0; step < STEPS; step++) {
    const last = step === STEPS - 1;
    const usage = { inputTokens: 400 + step * 60, outputTokens: last ? 80 : 18 };
    events.push({
      type: 'model_called',
      step,
      content: last
        ? [{ type: 'text', text: 'Stock: 0, 7, 14, 21 and 28 units. '.repeat(4) }]
        : [
            {
              type: 'tool_call',
              callId: `call_${step}`,
              toolName: 'lookup',
              arguments: JSON.stringify({ query: `item-${step + 1}` }),
            },
          ],
      finishReason: last ? 'stop' : 'tool_calls',
      usage,
      costUsd: costOf(usage, SIMULATOR_PRICE),
      estimatedInputTokens: usage.inputTokens - 3,
      latencyMs: 412.5,
      attempts: 1,
      responseId: `chatcmpl-${step}`,
      responseModel: 'bench-2026-11-01',
      requestHash: 'f'.repeat(32),
    });
    if (last) break;
    const callId = `call_${step}`;
    events.push(
      {
        type: 'tool_requested',
        step,
        callId,
        index: 0,
        toolName: 'lookup',
        input: { query: `item-${step + 1}` },
        effect: 'read',
      },
      {
        type: 'tool_started',
        step,
        callId,
        toolName: 'lookup',
        idempotencyKey: `run:${step}:0`,
        attempt: 1,
      },
      {
        type: 'tool_finished',
        step,
        callId,
        toolName: 'lookup',
        content: JSON.stringify({ query: `item-${step + 1}`, item: { sku: 'SKU-1000', stock: 7 } }),
        contentHash: 'a'.repeat(32),
        attempts: 1,
        latencyMs: 0.4,
      },
    );
  }
  events.push({
    type: 'run_finished',
    status: 'succeeded',
    reason: { type: 'final_answer' },
    output: 'Stock: 0, 7, 14, 21 and 28 units.',
    usage: { inputTokens: 3300, outputTokens: 170, costUsd: 0.0125, costKnown: true },
    steps: STEPS,
  });
  return events.map((event, index) => ({
    seq: index + 1,
    at: 1_764_000_000_000 + index * 50,
    event: event as JournalEntry['event'],
  }));
}

const RESOURCE = {
  attributes: { 'service.name': 'bench' },
  scopeName: 'keel',
  scopeVersion: '1',
  schemaUrl: 'https://opentelemetry.io/schemas/gen-ai/1.42.0',
};

/** Median over blocks of the per-item time of `work`, in µs. */
function measure(work: () => number): number {
  const samples: number[] = [];
  for (let block = -20; block < BLOCKS; block++) {
    let items = 0;
    const startedAt = performance.now();
    for (let index = 0; index < ITERATIONS_PER_BLOCK; index++) items += work();
    const perItemUs = ((performance.now() - startedAt) * 1000) / items;
    if (block >= 0) samples.push(perItemUs);
  }
  samples.sort((a, b) => a - b);
  return round(samples[Math.floor(samples.length / 2)] ?? Number.NaN, 2);
}

export function measureTraceOverhead(): TraceOverheadResult {
  const journal = workloadJournal();
  let sink = 0;
  const traced = (captureContent: boolean) => (): number => {
    // Cost per call from reported usage, as the engine computes it before committing.
    for (const entry of journal) {
      if (entry.event.type === 'model_called') {
        sink +=
          costOf(
            entry.event.usage as { inputTokens: number; outputTokens: number },
            SIMULATOR_PRICE,
          ) ?? 0;
      }
    }
    const spans = spansFromJournal('run_bench', journal, { captureContent });
    sink += encodeTraceRequest(spans, RESOURCE).length;
    return spans.length;
  };
  const spansPerRun = spansFromJournal('run_bench', journal).length;
  const perSpanUs = measure(traced(false));
  const perSpanWithContentUs = measure(traced(true));
  const journalJsonPerEventUs = measure(() => {
    for (const entry of journal) sink += JSON.stringify(entry.event).length;
    return journal.length;
  });
  // Keeps the work observable so it is not optimised away; also exercises the cost rollup.
  if (sink < 0 || costTotals([{ runId: 'run_bench', entries: journal }]).runs !== 1) {
    throw new Error('unreachable');
  }
  return {
    spansPerRun,
    perSpanUs,
    perSpanWithContentUs,
    journalJsonPerEventUs,
    target: TRACE_OVERHEAD_TARGET_US,
    within: perSpanUs <= TRACE_OVERHEAD_TARGET_US,
  };
}

export function renderTraceOverhead(result: TraceOverheadResult): string {
  return [
    `tracing overhead per span (derive from journal + cost + OTLP protobuf, ${result.spansPerRun} spans/run):`,
    `  ${result.perSpanUs} µs without content (target <= ${result.target} µs: ${result.within ? 'within' : 'OVER'}),`,
    `  ${result.perSpanWithContentUs} µs with content captured;`,
    `  baseline: ${result.journalJsonPerEventUs} µs per journal event to serialise it (JSON)`,
  ].join('\n');
}
