import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRuntime, openStore, type Router, type Runtime } from '../../src/index.js';
import { shadowReport } from '../../src/exports/eval.js';
import {
  DEMO_TASKS,
  createRefundsCandidate,
  createSupportDeskAgents,
  createSupportDeskTiers,
} from './agents.js';
import { createSupportDeskRouter } from './router.js';
import { SupportBackend } from './backend.js';
import { formatMoney } from './records.js';
import {
  formatScenario,
  isType,
  scenarioBase,
  type DemoReport,
  type JournalEntry,
  type RoutingFacts,
  type ScenarioReport,
  type ShadowFacts,
  routingFacts,
} from './report.js';
import { readJournal, runResumeScenario } from './resume-scenario.js';
import { approvalScenario } from './approval-scenario.js';

export type {
  ApprovalFacts,
  DemoReport,
  ShadowFacts,
  RoutingFacts,
  ResumeFacts,
  ScenarioName,
  ScenarioReport,
} from './report.js';

export interface DemoOptions {
  /** Where the demo's runs are kept, e.g. `sqlite:.keel/demo.db`. */
  readonly storeUrl: string;
  /** Print nothing: the caller prints the returned report as JSON. */
  readonly json: boolean;
  readonly log: (line: string) => void;
  /**
   * How to start the child worker of the resume scenario; the demo appends its own
   * arguments. Defaults to `worker-process.js` beside this module under this Node, or to
   * `worker-process.ts` through tsx when this module runs from source.
   */
  readonly workerCommand?: readonly string[] | undefined;
  /** Lease of the demo's workers: a killed worker's run is resumable this long after. */
  readonly leaseMs?: number | undefined;
  /**
   * Where the first run's reply text goes as the model sends it (no line breaks added); without
   * it, each reply is logged as one line once complete.
   */
  readonly write?: ((text: string) => void) | undefined;
}

/**
 * The support-desk demo: five tickets, each routed by a router on the `fast` tier to an
 * executor on the `frontier` tier (both scripted simulators), whose runs show a successful refund, a
 * tool failure the engine retries, a loop stopped by the identical-call limit, a run resumed
 * after its worker process was killed, and a refund over the limit held for a human approval.
 *
 * ```ts
 * const report = await runDemo({ storeUrl: 'sqlite:.keel/demo.db', json: false, log: console.log });
 * report.asExpected // true when every scenario showed what it is meant to show
 * ```
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { storeUrl, json, leaseMs = 1_000 } = options;
  const log = json ? () => undefined : options.log;
  const workerCommand = options.workerCommand ?? defaultWorkerCommand();
  const startedAt = Date.now();
  const ledgerDirectory = mkdtempSync(join(tmpdir(), 'keel-support-desk-'));
  const ledgerPath = join(ledgerDirectory, 'backend-ledger.jsonl');
  const backend = new SupportBackend({ ledgerPath });
  const tiers = createSupportDeskTiers();
  const agents = createSupportDeskAgents(backend, tiers);
  const router = createSupportDeskRouter(agents, tiers);
  const store = await openStore(storeUrl);
  // A candidate version of the refunds executor shadows its runs: it sees the same tickets,
  // is served production's recorded tool results, and never refunds or emails anyone.
  const candidate = createRefundsCandidate(backend, tiers);
  const runtime = createRuntime({ store, agents, leaseMs, candidates: [candidate] });
  const model = agents[0]?.model;
  let shadow: ShadowFacts | undefined;

  log('Keel support-desk demo: five tickets, routed to the refunds, payments and general agents');
  log(`store: ${storeUrl}`);
  const scenarios: ScenarioReport[] = [];
  const show = (scenario: ScenarioReport): void => {
    scenarios.push(scenario);
    for (const line of formatScenario(scenario, `[${String(scenarios.length)}/5]`)) log(line);
  };
  try {
    const started = await runtime.shadows.start({
      agent: 'refunds',
      candidate,
      share: 1,
      maxConcurrent: 2,
      maxCostUsd: 1,
    });
    // The routed runs are queued: this process's worker executes the first three, and the
    // shadow run of the refund.
    const worker = runtime.startWorker({ pollMs: 20 });
    try {
      log('');
      log('(the 1st run is streamed: its reply text appears as the model sends it)');
      const success = await successScenario(runtime, router, backend, json ? undefined : options);
      show(success);
      show(await retryScenario(runtime, router, backend));
      show(await loopScenario(runtime, router));
      shadow = await shadowOf(runtime, started.id, success.runId);
      log('');
      log(
        `shadow ${shadow.id}: refunds ${shadow.candidateVersion} repeated ${String(shadow.pairs)} run(s); ` +
          `${String(shadow.suppressedCalls)} call(s) suppressed, ${String(shadow.executedSideEffects)} side effects executed ` +
          `(see \`keel shadow report\`)`,
      );
    } finally {
      await worker.stop();
      // The later scenarios run in other processes that do not load the candidate.
      await runtime.shadows.stop(started.id);
    }
    log('');
    log('(the 4th run starts in a worker process that is SIGKILLed half-way; a few seconds…)');
    show(
      await resumeScenario({
        runtime,
        router,
        backend,
        storeUrl,
        ledgerPath,
        leaseMs,
        workerCommand,
      }),
    );
    log('');
    log('(the 5th run asks for a refund over the limit: it waits for the finance group…)');
    show(await approvalScenario({ store, agents, router, backend, log }));
  } finally {
    await runtime.close();
    await store.close();
    rmSync(ledgerDirectory, { recursive: true, force: true });
  }

  // Which model the runs used, from their journals (run_started), not from configuration.
  const used = scenarios[0]?.model ?? {
    provider: model?.provider ?? 'unknown',
    modelId: model?.modelId ?? 'unknown',
  };
  const routerModel = scenarios.find((scenario) => scenario.routing)?.routing?.model ?? 'unknown';
  const models = [
    { role: 'router' as const, model: routerModel, tier: 'fast' },
    {
      role: 'executors' as const,
      model: `${used.provider}/${used.modelId}`,
      tier: agents[0]?.tier ?? 'none',
    },
  ];
  const realModelCalled =
    scenarios.some((scenario) => scenario.model.provider !== 'simulator') ||
    !routerModel.startsWith('simulator/');
  const description = realModelCalled ? 'a real model provider' : 'scripted, deterministic';
  const asExpected = scenarios.every((scenario) => scenario.asExpected);
  log('');
  log(
    asExpected
      ? `All ${String(scenarios.length)} scenarios behaved as expected.`
      : `Not as expected: ${scenarios
          .filter((scenario) => !scenario.asExpected)
          .map((scenario) => scenario.name)
          .join(', ')}.`,
  );
  log(
    `models: ${models.map((entry) => `${entry.role} ${entry.model} (${entry.tier} tier)`).join(', ')}; ${description}` +
      (realModelCalled ? '' : ' — no real model was called'),
  );
  return {
    model: { provider: used.provider, modelId: used.modelId, description, realModelCalled },
    models,
    store: storeUrl,
    scenarios,
    ...(shadow ? { shadow } : {}),
    asExpected,
    durationMs: Date.now() - startedAt,
  };
}

/** What the shadow of the refunds executor did, once its shadow run of `runId` finished. */
async function shadowOf(runtime: Runtime, shadowId: string, runId: string): Promise<ShadowFacts> {
  // Queued when the production run finished; asking again queues nothing twice.
  await runtime.shadows.consider(runId);
  for (let tries = 0; tries < 500; tries++) {
    const pair = (await runtime.store.shadows.pairs(shadowId)).find((each) => each.runId === runId);
    if (pair && (await runtime.store.getRun(pair.candidateRunId))) {
      await runtime.wait(pair.candidateRunId, { pollMs: 20 });
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const report = await shadowReport(runtime.store, { shadowId });
  const record = report.shadows[0];
  return {
    id: shadowId,
    agent: record?.agent ?? 'refunds',
    candidateVersion: record?.candidateVersion ?? '',
    pairs: report.pairs.length,
    suppressedCalls: report.suppressedCalls,
    executedSideEffects: report.executedSideEffects,
  };
}

/** Route a ticket and wait for the chosen executor's run (a worker executes it). */
async function routeTicket(
  runtime: Runtime,
  router: Router,
  task: string,
): Promise<{ result: Awaited<ReturnType<Runtime['wait']>>; routing: RoutingFacts }> {
  const routed = await router.route(task, { runtime });
  if (!routed.runId) throw new Error(`the router did not start a run (${routed.status})`);
  const result = await runtime.wait(routed.runId, { pollMs: 20 });
  return { result, routing: routingFacts(routed) };
}

/**
 * Route a ticket and follow its run as a stream while a worker executes it: each step's reply
 * text is written as it arrives (or logged whole), then the result is read as usual.
 */
async function streamTicket(
  runtime: Runtime,
  router: Router,
  task: string,
  out: Pick<DemoOptions, 'log' | 'write'> | undefined,
): Promise<{ result: Awaited<ReturnType<Runtime['wait']>>; routing: RoutingFacts }> {
  const routed = await router.route(task, { runtime });
  if (!routed.runId) throw new Error(`the router did not start a run (${routed.status})`);
  let open = false;
  for await (const event of runtime.stream(routed.runId, { pollMs: 20 })) {
    if (!out) continue;
    if (event.type === 'text_delta' && out.write) {
      if (!open) out.write('  ▸ ');
      open = true;
      out.write(event.text);
    } else if (event.type === 'text_completed') {
      if (open) out.write?.('\n');
      else out.log(`  ▸ ${event.text}`);
      open = false;
    } else if (event.type === 'tool_call') {
      const input = JSON.stringify(event.input);
      out.log(`  ▸ ${event.toolName} ${input.length > 90 ? `${input.slice(0, 89)}…` : input}`);
    }
  }
  const result = await runtime.wait(routed.runId, { pollMs: 20 });
  return { result, routing: routingFacts(routed) };
}

async function successScenario(
  runtime: Runtime,
  router: Router,
  backend: SupportBackend,
  out: Pick<DemoOptions, 'log' | 'write'> | undefined,
): Promise<ScenarioReport> {
  const task = DEMO_TASKS.refund;
  const { result, routing } = await streamTicket(runtime, router, task, out);
  const entries = await readJournal(runtime, result.id);
  const toolCalls = finishedTools(entries);
  const refunds = backend.refunds().filter((refund) => refund.orderId === 'ORD-1001');
  const asExpected =
    result.status === 'succeeded' && refunds.length === 1 && toolCalls.includes('issue_refund');
  return {
    name: 'success',
    ...scenarioBase({
      title: 'a refund, end to end',
      agent: 'refunds',
      task,
      runId: result.id,
      entries,
    }),
    routing,
    asExpected: asExpected && routing.route === 'refunds',
    shows: [
      `tools: ${toolCalls.join(' → ')}; ` +
        refunds
          .map((refund) => `refund ${refund.id} of ${formatMoney(refund.amountCents)} issued once`)
          .join('; '),
    ],
    facts: { toolCalls, refundIds: refunds.map((refund) => refund.id) },
  };
}

async function retryScenario(
  runtime: Runtime,
  router: Router,
  backend: SupportBackend,
): Promise<ScenarioReport> {
  const task = DEMO_TASKS.declinedPayment;
  backend.failNext('payments', {
    times: 1,
    message: 'payments gateway returned HTTP 503 (upstream timeout)',
  });
  const { result, routing } = await routeTicket(runtime, router, task);
  const entries = await readJournal(runtime, result.id);
  const events = entries.map((entry) => entry.event);
  const retried = events.filter(isType('tool_failed')).filter((event) => !event.final);
  const finished = events
    .filter(isType('tool_finished'))
    .find((event) => event.toolName === 'get_payment_status');
  const attempts = finished?.attempts ?? 0;
  const failures = retried.map((event) => `${event.toolName}: ${event.error.type}`);
  return {
    name: 'retry',
    ...scenarioBase({
      title: 'a flaky payments gateway, retried by the engine',
      agent: 'payments',
      task,
      runId: result.id,
      entries,
    }),
    routing,
    asExpected:
      result.status === 'succeeded' &&
      retried.length >= 1 &&
      attempts >= 2 &&
      routing.route === 'payments',
    shows: [
      `get_payment_status failed ${String(retried.length)}× (${retried.map((event) => event.error.type).join(', ')}) and ` +
        `succeeded on attempt ${String(attempts)}: the engine retried it (a read, transient error); ` +
        'the model only saw the result',
    ],
    facts: { retries: retried.length, failures, attempts },
  };
}

async function loopScenario(runtime: Runtime, router: Router): Promise<ScenarioReport> {
  const task = DEMO_TASKS.looping;
  const { result, routing } = await routeTicket(runtime, router, task);
  const entries = await readJournal(runtime, result.id);
  const events = entries.map((entry) => entry.event);
  const limitHit = events.find(isType('limit_hit'));
  const maxIterations = events.find(isType('run_started'))?.limits.maxIterations ?? null;
  const requested = events.filter(isType('tool_requested'));
  const lastCall = requested.at(-1);
  const repeatedCall = lastCall ? `${lastCall.toolName}(${JSON.stringify(lastCall.input)})` : null;
  const asExpected =
    routing.route === 'general' &&
    result.status === 'stopped' &&
    limitHit?.limit === 'identical_calls' &&
    maxIterations !== null &&
    result.steps < maxIterations;
  return {
    name: 'loop_stopped',
    ...scenarioBase({
      title: 'an agent repeating the same call, stopped by a limit',
      agent: 'general',
      task,
      runId: result.id,
      entries,
    }),
    routing,
    asExpected,
    shows: [
      `stopped by ${limitHit?.limit ?? 'no limit'} after ${String(result.steps)} steps ` +
        `(iteration cap ${String(maxIterations)}): ${repeatedCall ?? 'no call'} was asked ` +
        `${String(limitHit?.used ?? requested.length)} times; the last call never ran`,
    ],
    facts: {
      limit: limitHit?.limit ?? null,
      used: limitHit?.used ?? null,
      max: limitHit?.max ?? null,
      maxIterations,
      repeatedCall,
    },
  };
}

async function resumeScenario(options: {
  runtime: Runtime;
  router: Router;
  backend: SupportBackend;
  storeUrl: string;
  ledgerPath: string;
  leaseMs: number;
  workerCommand: readonly string[];
}): Promise<ScenarioReport> {
  const task = DEMO_TASKS.slowRefund;
  // No worker of this process is running: the routed run waits for the child worker.
  const routed = await options.router.route(task, { runtime: options.runtime });
  const routing = routingFacts(routed);
  const { runId, result, entries, facts } = await runResumeScenario({
    ...options,
    agent: 'refunds',
    task,
    orderId: 'ORD-1002',
    runId: routed.runId,
  });
  const childWorker = facts.claims[0]?.workerId;
  const workerName = (workerId: string, claim: number): string =>
    workerId === options.runtime.workerId
      ? `this process (${workerId}), after the killed worker's lease expired`
      : claim === 1
        ? `worker process pid ${String(facts.childPid)} (${workerId}), later SIGKILLed`
        : workerId;
  const workers = new Set(facts.claims.map((claim) => claim.workerId));
  const asExpected =
    routing.route === 'refunds' &&
    result.status === 'succeeded' &&
    facts.claims.length >= 2 &&
    workers.size >= 2 &&
    childWorker !== options.runtime.workerId &&
    facts.repeatedCompletedCalls === 0 &&
    facts.refundsIssued === 1;
  return {
    name: 'resume',
    ...scenarioBase({
      title: 'a worker killed mid-run, the run resumed by another',
      agent: 'refunds',
      task,
      runId,
      entries,
      workerName,
    }),
    routing,
    asExpected,
    shows: [
      `${String(facts.claims.length)} claims by ${String(workers.size)} workers; the worker was killed during ${facts.killedDuring}`,
      `killed worker executed: ${list(facts.toolExecutionsBeforeKill)} (${String(facts.modelCallsBeforeKill)} model calls)`,
      `resumed worker executed: ${list(facts.toolExecutionsAfterResume)} (${String(facts.modelCallsAfterResume)} model calls); ` +
        `completed calls repeated: ${String(facts.repeatedCompletedCalls)}`,
      `refunds for ORD-1002 in the backend: ${String(facts.refundsIssued)} (the reissued call reused its idempotency key)`,
    ],
    facts,
  };
}

/** Tool names with a `tool_finished`, in order. */
function finishedTools(entries: readonly JournalEntry[]): string[] {
  return entries
    .map((entry) => entry.event)
    .filter(isType('tool_finished'))
    .map((event) => event.toolName);
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'nothing' : items.join(', ');
}

/** `worker-process.js` beside this module, or its `.ts` source through tsx when run from source. */
function defaultWorkerCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return [
      process.execPath,
      '--import',
      pathToFileURL(tsx).href,
      fileURLToPath(new URL('./worker-process.ts', import.meta.url)),
    ];
  }
  return [process.execPath, fileURLToPath(new URL('./worker-process.js', import.meta.url))];
}
