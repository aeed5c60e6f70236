// The Keel bench (`npm run bench`). Against a fake OpenAI-style server in a child process it
// measures, each against a baseline taken in the same run so machine noise cancels:
//   1. per-step overhead of a Keel run (an `openai-compatible:` model string) over a hand-written
//      `openai` loop (SQLite journal FULL, NORMAL,
//      in memory) and the disk's raw fsync'd commit cost;
//   2. 500 concurrent runs at 200 ms model latency: total time and peak RSS per in-flight run;
//   3. cold start: a fresh process to its first run's result, next to `node -e 0`; and on the
//      real path, an `openai-compatible:` model string against the fake server next to the
//      hand-written `openai` loop (cold-start-real.ts), as a ratio;
//   4. tool policy overhead per successful call, next to calling the tool directly.
//   5. adapter overhead per call of the OpenAI and Anthropic adapters over the raw SDK call.
//   6. tracing overhead per span (trace-overhead.ts), next to the journal's own serialisation,
//      and the import time of trace export (Keel alone; each protocol's exporter on top).
//   7. approval -> resumed run latency (SQLite; PostgreSQL with LISTEN/NOTIFY when reachable).
//   8. context assembly per step at 300 steps (context-assembly.ts), next to the whole
//      conversation's request and count; store-backed recall per step (context-recall.ts);
//      recall quality, recall@1 and @3 of the store search and the recall tool over 50
//      questions on 220 stored results (recall-quality.ts).
//   9. guard overhead per tool call (guard-overhead.ts), next to an always-allow gate; per-step
//      CPU at step 1,000 of one run against step 10 (step-growth.ts), replay checked identical;
//      the pre-flight's character estimate against the tokenizer (token-estimate-error.ts).
//  10. support-desk cost per ticket: router on `fast` + decision cache + executors on `frontier`,
//      against the same split all on `frontier` and against one generalist frontier agent.
//  11. the dashboard's runs list at 100,000 runs on SQLite: server time per page, per filter,
//      next to a bare 50-row select.
//  12. scale-out (scaling.ts): 1/2/4/8 worker processes on PostgreSQL on an I/O-bound load,
//      runs/s, steps/s, claim latency, store time per step; one SQLite process on the same load;
//      submit -> first model call on an idle PostgreSQL worker (LISTEN/NOTIFY).
//  13. production run latency (p50, p99) with a shadow on (every run repeated by a candidate on
//      the same worker, deferred to quiet time) next to off, in alternating blocks of back-to-back
//      runs; the production journals compared; how long the shadow runs took after the load.
//  14. streaming (stream-latency.ts): time to the first text_delta of a streamed run against a
//      bare SDK stream's first token from the same fake SSE server; a run's duration with a
//      consumer reading one event per second, next to nobody reading.
// Figures are printed, never asserted. `--json` prints one JSON document on stdout and
// nothing else there; progress goes to stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { MODEL_CALLS_PER_RUN, TOOL_CALLS_PER_RUN } from './bench-workload.js';
import { spawnFakeServer, stopAllChildren } from './child-processes.js';
import {
  measureColdStart,
  measureRealColdStart,
  renderRealColdStart,
} from './cold-start-measure.js';
import { measureConcurrent } from './concurrent-measure.js';
import { openFsyncProbe } from './fsync-cost.js';
import { PER_STEP_OPTIONS, countCommitsPerRun, measurePerStep } from './per-step.js';
import { measureApprovalLatency, renderApprovalLatency } from './approval-latency.js';
import {
  realPathTargets,
  renderTable,
  type BenchReport,
  type MachineInfo,
  type PerStepReport,
  type TargetCheck,
  type TargetName,
} from './report.js';
import { round } from './stats.js';
import { measureToolPolicies, renderToolPolicies } from './tool-policies.js';
import { measureAdapterOverhead, renderAdapterOverhead } from './adapter-overhead.js';
import {
  measureTraceImport,
  measureTraceOverhead,
  renderTraceImport,
  renderTraceOverhead,
} from './trace-overhead.js';
import { measureContextAssembly, renderContextAssembly } from './context-assembly.js';
import { measureContextRecall, renderContextRecall } from './context-recall.js';
import { measureRecallQuality, renderRecallQuality } from './recall-quality.js';
import { measureGuardOverhead, renderGuardOverhead } from './guard-overhead.js';
import { STEP_GROWTH_WINDOW, measureStepGrowth, renderStepGrowth } from './step-growth.js';
import { measureTokenEstimateError, renderTokenEstimateError } from './token-estimate-error.js';
import { measureRoutingCost, renderRoutingCost } from './routing-cost.js';
import { measureRunsList, renderRunsList } from './runs-list.js';
import { measureMcpOverhead, renderMcpOverhead } from './mcp-overhead.js';
import { measureScaling, renderScaling } from './scaling.js';
import { measureShadowOverhead, renderShadowOverhead } from './shadow-overhead.js';
import { measureStreamLatency, renderStreamLatency } from './stream-latency.js';

const TARGETS = {
  perStepOverheadMs: 0.25,
  concurrentTotalSeconds: 2.0,
  concurrentKbPerRun: 300,
  coldStartMs: 200,
} as const satisfies Record<TargetName, number>;

// Five rounds: a burst saturates both cores, and on a shared machine one round of either loop
// can take a fifth longer than the next; the medians of five steady the ratios.
const CONCURRENT = { runs: 500, latencyMs: 200, rounds: 5, warmupRuns: 20 } as const;
const COLD_START_SPAWNS = 7;
const STEP_GROWTH = { steps: 1000, window: STEP_GROWTH_WINDOW, replay: true } as const;
/** Raw fsync'd commits after each pair of blocks of the FULL measurement (20 pairs: 200). */
const FSYNC_COMMITS_PER_BLOCK = 10;

const json = process.argv.includes('--json');
const progress = (message: string): void => {
  process.stderr.write(`bench: ${message}\n`);
};

const directory = mkdtempSync(join(tmpdir(), 'keel-bench-'));
function cleanUp(): void {
  stopAllChildren();
  rmSync(directory, { recursive: true, force: true });
}
process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

const benchStartedAt = performance.now();
const loadAverageAtStart = loadavg();

// First, on a fresh heap: it is a CPU micro-measurement.
progress('tracing overhead per span');
const traceOverhead = measureTraceOverhead();
progress('context assembly per step at 300 steps');
const contextAssembly = measureContextAssembly();
progress('store-backed recall per step at 300 steps');
const contextRecall = await measureContextRecall();
progress('recall quality: 50 questions over 220 stored results');
const recallQuality = await measureRecallQuality();
progress('guard overhead per tool call');
const guardOverhead = measureGuardOverhead();
progress('pre-flight token estimate error against the tokenizer');
const tokenEstimateError = measureTokenEstimateError();
progress('per-step CPU over steps 10-110 and 900-1,000 of long runs (in memory, SQLite file)');
const stepGrowth = [
  await measureStepGrowth({ ...STEP_GROWTH, storeUrl: 'sqlite::memory:' }),
  await measureStepGrowth({ ...STEP_GROWTH, storeUrl: `sqlite:${join(directory, 'long.db')}` }),
];

const fastServer = await spawnFakeServer({ latencyMs: 0, toolCallsPerRun: TOOL_CALLS_PER_RUN });
// A worker's steady state: the JIT's warm-up belongs to the cold-start row.
const perStepOptions = { baseURL: fastServer.url, ...PER_STEP_OPTIONS };
progress("per-step overhead, SQLite file, synchronous=FULL (and raw fsync'd commits)");
const fsyncProbe = openFsyncProbe(join(directory, 'fsync.db'));
const full = await measurePerStep({
  ...perStepOptions,
  storeUrl: `sqlite:${join(directory, 'full.db')}`,
  sqliteSync: 'full',
  betweenBlocks: () => {
    fsyncProbe.commit(FSYNC_COMMITS_PER_BLOCK);
  },
});
const fsyncCommit = fsyncProbe.summary();
fsyncProbe.close();
progress('per-step overhead, SQLite file, synchronous=NORMAL');
const normal = await measurePerStep({
  ...perStepOptions,
  storeUrl: `sqlite:${join(directory, 'normal.db')}`,
  sqliteSync: 'normal',
});
progress('per-step overhead, SQLite in memory');
const memory = await measurePerStep({ ...perStepOptions, storeUrl: 'sqlite::memory:' });
const commitsPerRun = await countCommitsPerRun({
  baseURL: fastServer.url,
  storeUrl: `sqlite:${join(directory, 'counted.db')}`,
});
await fastServer.stop();
const perStep: PerStepReport = {
  full,
  normal,
  memory,
  fsyncCommit,
  commitsPerRun,
  fsyncFloorPerStepMs: round((commitsPerRun * fsyncCommit.medianMs) / MODEL_CALLS_PER_RUN),
};

progress(
  `${CONCURRENT.runs} concurrent runs at ${CONCURRENT.latencyMs} ms latency, ${CONCURRENT.rounds} rounds`,
);
const slowServer = await spawnFakeServer({
  latencyMs: CONCURRENT.latencyMs,
  toolCallsPerRun: TOOL_CALLS_PER_RUN,
});
const concurrent = await measureConcurrent({
  baseURL: slowServer.url,
  ...CONCURRENT,
  modelCallsPerRun: MODEL_CALLS_PER_RUN,
  directory,
});
await slowServer.stop();

progress(`cold start (${COLD_START_SPAWNS} spawns)`);
const coldStart = await measureColdStart({ spawns: COLD_START_SPAWNS, directory });
progress(`cold start on an openai-compatible: model string (${COLD_START_SPAWNS} spawns of each)`);
const coldServer = await spawnFakeServer({ latencyMs: 0, toolCallsPerRun: TOOL_CALLS_PER_RUN });
const realColdStart = await measureRealColdStart({
  spawns: COLD_START_SPAWNS,
  directory,
  baseURL: coldServer.url,
});
await coldServer.stop();

progress('trace export import time');
const traceImport = await measureTraceImport();
progress('tool policy overhead per successful call');
const toolPolicies = await measureToolPolicies();
progress('approval -> resumed run latency');
const approvalLatency = await measureApprovalLatency({ directory });

progress('adapter overhead per call over the raw SDK call');
const adapterOverhead = await measureAdapterOverhead({ pairs: 1000, warmupCalls: 100 });
progress('support-desk cost per ticket: tiered router + executors vs all frontier');
const routingCost = await measureRoutingCost();
progress('dashboard runs list at 100,000 runs (SQLite)');
const runsList = await measureRunsList();

progress('MCP tool call overhead over the SDK call (stdio server)');
const mcpOverhead = await measureMcpOverhead();
progress('production run latency with a shadow on and off');
const shadowOverhead = await measureShadowOverhead({ directory });

progress('scale-out: 1/2/4/8 workers on PostgreSQL, one SQLite process, idle wake-up');
const scaling = await measureScaling();

progress('streaming: time to first text_delta, a slow consumer');
const streamLatency = await measureStreamLatency();

const targetCheck = (
  name: TargetName,
  value: number,
  unit: string,
  measures: string,
): TargetCheck => ({
  target: TARGETS[name],
  value,
  unit,
  within: value <= TARGETS[name],
  measures,
});
// Taken once every measurement is done: the load at the end and the time the whole bench took.
const machine: MachineInfo = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  totalMemoryMb: Math.round(totalmem() / (1024 * 1024)),
  loadAverageAtStart: loadAverageAtStart.map((value) => round(value, 2)),
  loadAverageAtEnd: loadavg().map((value) => round(value, 2)),
  tmpdir: tmpdir(),
};
const report: BenchReport = {
  machine,
  perStep,
  concurrent,
  coldStart,
  targets: {
    perStepOverheadMs: targetCheck(
      'perStepOverheadMs',
      full.overheadPerStepMs.fromMedian,
      'ms',
      'perStep.full.overheadPerStepMs.fromMedian',
    ),
    concurrentTotalSeconds: targetCheck(
      'concurrentTotalSeconds',
      concurrent.keel.totalSeconds,
      's',
      'concurrent.keel.totalSeconds',
    ),
    concurrentKbPerRun: targetCheck(
      'concurrentKbPerRun',
      concurrent.keel.kbPerInFlightRun,
      'KB',
      'concurrent.keel.kbPerInFlightRun',
    ),
    coldStartMs: targetCheck('coldStartMs', coldStart.firstRunMs, 'ms', 'coldStart.firstRunMs'),
  },
  realPathTargets: realPathTargets(perStep, concurrent),
  benchSeconds: round((performance.now() - benchStartedAt) / 1000, 1),
};

process.stdout.write(
  json
    ? `${JSON.stringify({ ...report, toolPolicies, adapterOverhead, traceOverhead, approvalLatency, contextAssembly, contextRecall, guardOverhead, stepGrowth, tokenEstimateError, realColdStart, routingCost, runsList, mcpOverhead, streamLatency, traceImport, recallQuality, scaling, shadowOverhead }, null, 2)}\n`
    : [
        renderTable(report),
        renderRealColdStart(realColdStart),
        renderToolPolicies(toolPolicies),
        renderAdapterOverhead(adapterOverhead),
        renderTraceOverhead(traceOverhead),
        renderTraceImport(traceImport),
        renderApprovalLatency(approvalLatency),
        renderContextAssembly(contextAssembly),
        renderContextRecall(contextRecall),
        renderRecallQuality(recallQuality),
        renderGuardOverhead(guardOverhead),
        renderStepGrowth(stepGrowth),
        renderTokenEstimateError(tokenEstimateError),
        renderRoutingCost(routingCost),
        renderRunsList(runsList),
        renderMcpOverhead(mcpOverhead),
        renderScaling(scaling),
        renderShadowOverhead(shadowOverhead),
        renderStreamLatency(streamLatency),
      ].join('\n\n') + '\n',
);
cleanUp();
