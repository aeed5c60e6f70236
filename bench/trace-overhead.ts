// Tracing overhead per span: deriving a run's spans from its journal (with each call's cost
// computed from its usage, as the engine does), handing them to OpenTelemetry as
// `ReadableSpan`s and encoding them as its OTLP exporters do (protobuf; JSON for comparison),
// which is all the work tracing adds to a run — the journal is written anyway, and export
// happens off the run's path. Measured in process, in blocks, after a warm-up; the baseline
// in the same run is what the journal already pays for the same events (JSON text of each).
// The import time of the exporters, paid once when a process first exports, is measured in
// fresh processes (trace-import-process.ts), next to Keel's own import.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { costTotals, spansFromJournal, type JournalEntry } from '../src/exports/observe.js';
import { SIMULATOR_PRICE, costOf } from '../src/model/index.js';
import { readableSpans } from '../src/observe/readable-spans.js';
import { benchScript, runNodeJson } from './child-processes.js';
import { median, round } from './stats.js';

export const TRACE_OVERHEAD_TARGET_US = 25;

export interface TraceOverheadResult {
  readonly spansPerRun: number;
  /** Median µs per span: derive + cost + ReadableSpan + OTLP protobuf encode, no content. */
  readonly perSpanUs: number;
  /** The same with content captured (8 KiB truncation). */
  readonly perSpanWithContentUs: number;
  /** The same as `perSpanUs`, encoded as OTLP JSON (`http/json`). */
  readonly perSpanJsonUs: number;
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

const RESOURCE = resourceFromAttributes({ 'service.name': 'bench' });

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
  const traced =
    (captureContent: boolean, serializer = ProtobufTraceSerializer) =>
    (): number => {
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
      sink += serializer.serializeRequest(readableSpans(spans, RESOURCE))?.length ?? 0;
      return spans.length;
    };
  const spansPerRun = spansFromJournal('run_bench', journal).length;
  const perSpanUs = measure(traced(false));
  const perSpanWithContentUs = measure(traced(true));
  const perSpanJsonUs = measure(traced(false, JsonTraceSerializer));
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
    perSpanJsonUs,
    journalJsonPerEventUs,
    target: TRACE_OVERHEAD_TARGET_US,
    within: perSpanUs <= TRACE_OVERHEAD_TARGET_US,
  };
}

export function renderTraceOverhead(result: TraceOverheadResult): string {
  return [
    `tracing overhead per span (derive from journal + cost + OpenTelemetry ReadableSpan + OTLP protobuf, ${result.spansPerRun} spans/run):`,
    `  ${result.perSpanUs} µs without content (target <= ${result.target} µs: ${result.within ? 'within' : 'OVER'}),`,
    `  ${result.perSpanWithContentUs} µs with content captured, ${result.perSpanJsonUs} µs as OTLP JSON;`,
    `  baseline: ${result.journalJsonPerEventUs} µs per journal event to serialise it (JSON)`,
  ].join('\n');
}

export interface TraceImportResult {
  readonly spawns: number;
  /** Medians over fresh processes, in ms: Keel's own import (exporters not loaded by it). */
  readonly keelMs: number;
  /** What the first export of each protocol loads, after Keel (OpenTelemetry's exporter). */
  readonly exporterMs: Readonly<Record<'http/protobuf' | 'http/json' | 'grpc', number>>;
  /** No OpenTelemetry exporter or gRPC module was loaded by importing Keel, in any spawn. */
  readonly keelLoadsNoExporter: boolean;
}

/** Import times in fresh processes: Keel alone, then each protocol's exporter on top. */
export async function measureTraceImport({ spawns = 5 } = {}): Promise<TraceImportResult> {
  const script = benchScript('trace-import-process.js');
  const protocols = ['http/protobuf', 'http/json', 'grpc'] as const;
  const keel: number[] = [];
  const exporter: Record<(typeof protocols)[number], number[]> = {
    'http/protobuf': [],
    'http/json': [],
    grpc: [],
  };
  let keelLoadsNoExporter = true;
  for (let spawn = -1; spawn < spawns; spawn++) {
    for (const protocol of protocols) {
      const sample = await runNodeJson<{ keelMs: number; exporterMs: number; loaded: string[] }>(
        [script],
        [protocol],
      );
      if (sample.loaded.length > 0) keelLoadsNoExporter = false;
      if (spawn < 0) continue;
      keel.push(sample.keelMs);
      exporter[protocol].push(sample.exporterMs);
    }
  }
  const ms = (samples: number[]): number => round(median(samples), 1);
  return {
    spawns,
    keelMs: ms(keel),
    exporterMs: {
      'http/protobuf': ms(exporter['http/protobuf']),
      'http/json': ms(exporter['http/json']),
      grpc: ms(exporter.grpc),
    },
    keelLoadsNoExporter,
  };
}

export function renderTraceImport(result: TraceImportResult): string {
  return [
    `trace export import time (median of ${result.spawns} fresh processes each): Keel ${result.keelMs} ms, loading no exporter: ${result.keelLoadsNoExporter ? 'yes' : 'NO'};`,
    `  first export then loads OpenTelemetry's exporter: http/protobuf ${result.exporterMs['http/protobuf']} ms, http/json ${result.exporterMs['http/json']} ms, grpc ${result.exporterMs.grpc} ms`,
  ].join('\n');
}
