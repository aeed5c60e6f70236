import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRuntime, openStore, type Runtime } from '../../src/index.js';
import { DEMO_TASKS, createSupportDeskAgents } from './agents.js';
import { SupportBackend } from './backend.js';
import { formatMoney } from './records.js';
import {
  formatScenario,
  isType,
  scenarioBase,
  type DemoReport,
  type JournalEntry,
  type ScenarioReport,
} from './report.js';
import { readJournal, runResumeScenario } from './resume-scenario.js';
import { approvalScenario } from './approval-scenario.js';

export type {
  ApprovalFacts,
  DemoReport,
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
}

/**
 * The support-desk demo: five runs on the scripted simulator that show a successful refund, a
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
  const agents = createSupportDeskAgents(backend);
  const store = await openStore(storeUrl);
  const runtime = createRuntime({ store, agents, leaseMs });
  const model = agents[0]?.model;

  log('Keel support-desk demo: five runs of the refunds, payments and general agents');
  log(`store: ${storeUrl}`);
  const scenarios: ScenarioReport[] = [];
  const show = (scenario: ScenarioReport): void => {
    scenarios.push(scenario);
    for (const line of formatScenario(scenario, `[${String(scenarios.length)}/5]`)) log(line);
  };
  try {
    show(await successScenario(runtime, backend));
    show(await retryScenario(runtime, backend));
    show(await loopScenario(runtime));
    log('');
    log('(the 4th run starts in a worker process that is SIGKILLed half-way; a few seconds…)');
    show(await resumeScenario({ runtime, backend, storeUrl, ledgerPath, leaseMs, workerCommand }));
    log('');
    log('(the 5th run asks for a refund over the limit: it waits for the finance group…)');
    show(await approvalScenario({ store, agents, backend, log }));
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
  const realModelCalled = scenarios.some((scenario) => scenario.model.provider !== 'simulator');
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
    `model: ${used.provider}/${used.modelId} (${description})` +
      (realModelCalled ? '' : ' — no real model was called'),
  );
  return {
    model: { provider: used.provider, modelId: used.modelId, description, realModelCalled },
    store: storeUrl,
    scenarios,
    asExpected,
    durationMs: Date.now() - startedAt,
  };
}

async function successScenario(runtime: Runtime, backend: SupportBackend): Promise<ScenarioReport> {
  const task = DEMO_TASKS.refund;
  const result = await runtime.run('refunds', task);
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
    asExpected,
    shows: [
      `tools: ${toolCalls.join(' → ')}; ` +
        refunds
          .map((refund) => `refund ${refund.id} of ${formatMoney(refund.amountCents)} issued once`)
          .join('; '),
    ],
    facts: { toolCalls, refundIds: refunds.map((refund) => refund.id) },
  };
}

async function retryScenario(runtime: Runtime, backend: SupportBackend): Promise<ScenarioReport> {
  const task = DEMO_TASKS.declinedPayment;
  backend.failNext('payments', {
    times: 1,
    message: 'payments gateway returned HTTP 503 (upstream timeout)',
  });
  const result = await runtime.run('payments', task);
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
    asExpected: result.status === 'succeeded' && retried.length >= 1 && attempts >= 2,
    shows: [
      `get_payment_status failed ${String(retried.length)}× (${retried.map((event) => event.error.type).join(', ')}) and ` +
        `succeeded on attempt ${String(attempts)}: the engine retried it (a read, transient error); ` +
        'the model only saw the result',
    ],
    facts: { retries: retried.length, failures, attempts },
  };
}

async function loopScenario(runtime: Runtime): Promise<ScenarioReport> {
  const task = DEMO_TASKS.looping;
  const result = await runtime.run('general', task);
  const entries = await readJournal(runtime, result.id);
  const events = entries.map((entry) => entry.event);
  const limitHit = events.find(isType('limit_hit'));
  const maxIterations = events.find(isType('run_started'))?.limits.maxIterations ?? null;
  const requested = events.filter(isType('tool_requested'));
  const lastCall = requested.at(-1);
  const repeatedCall = lastCall ? `${lastCall.toolName}(${JSON.stringify(lastCall.input)})` : null;
  const asExpected =
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
  backend: SupportBackend;
  storeUrl: string;
  ledgerPath: string;
  leaseMs: number;
  workerCommand: readonly string[];
}): Promise<ScenarioReport> {
  const task = DEMO_TASKS.slowRefund;
  const { runId, result, entries, facts } = await runResumeScenario({
    ...options,
    agent: 'refunds',
    task,
    orderId: 'ORD-1002',
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
