import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createRuntime,
  slackNotifier,
  type Agent,
  type Router,
  type Store,
} from '../../src/index.js';
import { DEMO_TASKS } from './agents.js';
import type { SupportBackend } from './backend.js';
import { formatMoney } from './records.js';
import {
  isType,
  routingFacts,
  scenarioBase,
  type ApprovalFacts,
  type ScenarioReport,
} from './report.js';

/**
 * A refund over the desk's limit, through the approval gate: the run parks waiting for the
 * finance group (no worker holds it), a Slack-compatible webhook on this machine receives the
 * notification with the decide link, an approver decides with a token, and a worker resumes
 * the run, which issues the refund exactly once.
 */
export async function approvalScenario({
  store,
  agents,
  router,
  backend,
  log,
}: {
  store: Store;
  agents: readonly Agent[];
  router: Router;
  backend: SupportBackend;
  log: (line: string) => void;
}): Promise<ScenarioReport> {
  const task = DEMO_TASKS.largeRefund;
  const inbox = await slackInbox();
  const runtime = createRuntime({
    store,
    agents,
    approvals: {
      notifier: slackNotifier({ webhookUrl: inbox.url }),
      baseUrl: 'http://127.0.0.1:4600',
    },
  });
  const worker = runtime.startWorker({ pollMs: 20 });
  try {
    const routed = await router.route(task, { runtime });
    if (!routed.runId) throw new Error(`the router did not start a run (${routed.status})`);
    const record = { id: routed.runId };
    const parked = await poll(async () => {
      const run = await store.getRun(record.id);
      const [approval] = await store.approvals.list({ runId: record.id, states: ['pending'] });
      return run?.status === 'waiting' && approval && inbox.messages.length > 0
        ? { run, approval }
        : undefined;
    });
    const { approval } = parked;
    const message = inbox.messages[0] ?? { text: '' };
    log(
      `   … run ${record.id} is ${parked.run.status} (lease held by ${parked.run.leaseOwner ?? 'no worker'}); ` +
        `approval ${approval.id} for group ${approval.approverGroup}`,
    );
    log(`   … notification on the local Slack-compatible webhook: "${message.text}"`);
    const { token } = await runtime.approvals.addApprover({
      name: 'dana',
      groups: ['finance'],
    });
    const reason = 'receipt checked; lamp faulty';
    log(
      `   … dana (finance) decides with her approver token: KEEL_APPROVER_TOKEN=<dana's token> keel approve ${approval.id} --hash ${approval.argsHash} --reason "${reason}"`,
    );
    await runtime.approvals.decide({
      token,
      id: approval.id,
      decision: 'approve',
      argsHash: approval.argsHash,
      reason,
    });
    const result = await runtime.wait(record.id, { pollMs: 20 });
    const entries = (await store.readEvents(record.id)).map((entry) => ({
      seq: entry.seq,
      event: entry.event,
    }));
    const events = entries.map((entry) => entry.event);
    const refunds = backend.refunds().filter((refund) => refund.orderId === 'ORD-1005');
    const decided = events.find(isType('approval_decided'));
    const suspended = events.some((event) => event.type === 'run_suspended');
    const startedBeforeDecision = events
      .slice(0, decided ? events.indexOf(decided) : events.length)
      .some((event) => event.type === 'tool_started' && event.toolName === 'issue_refund');
    const facts: ApprovalFacts = {
      approvalId: approval.id,
      approverGroup: approval.approverGroup,
      gateReason: approval.gateReason,
      notified: message.text,
      decideLink: inbox.messages[0]?.link ?? null,
      parkedWithoutWorker: parked.run.leaseOwner === null && suspended,
      decidedBy: decided?.decidedBy ?? null,
      refundStartedBeforeDecision: startedBeforeDecision,
      refundsIssued: refunds.length,
    };
    const asExpected =
      result.status === 'succeeded' &&
      facts.parkedWithoutWorker &&
      facts.decidedBy === 'dana' &&
      !startedBeforeDecision &&
      refunds.length === 1 &&
      facts.decideLink !== null &&
      routed.route === 'refunds';
    return {
      name: 'approval',
      ...scenarioBase({
        title: 'a refund over the limit, held for a human',
        agent: 'refunds',
        task,
        runId: record.id,
        entries,
      }),
      routing: routingFacts(routed),
      asExpected,
      shows: [
        `the refund was held (no worker, no lease) until ${facts.decidedBy ?? 'nobody'} approved it; ` +
          `the notification carried ${facts.decideLink ?? 'no link'}`,
        `refunds for ORD-1005 in the backend: ${String(refunds.length)}` +
          refunds.map((refund) => ` (${refund.id}, ${formatMoney(refund.amountCents)})`).join(''),
      ],
      facts,
    };
  } finally {
    await worker.stop({ abortInFlight: true });
    await runtime.close();
    await inbox.close();
  }
}

/** A local stand-in for a Slack incoming webhook: keeps each payload's text and first button. */
async function slackInbox(): Promise<{
  url: string;
  messages: { text: string; link: string | null }[];
  close(): Promise<void>;
}> {
  const messages: { text: string; link: string | null }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      const payload = JSON.parse(body) as {
        text: string;
        blocks: { type: string; elements?: { url?: string }[] }[];
      };
      const actions = payload.blocks.find((block) => block.type === 'actions');
      messages.push({ text: payload.text, link: actions?.elements?.[0]?.url ?? null });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/services/demo`,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('the approval scenario timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
