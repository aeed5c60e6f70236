import { z } from 'zod';
import { defineAgent, type Agent } from '../../agent/index.js';
import { createRuntime, type Runtime } from '../../engine/index.js';
import { simulator } from '../../model/index.js';
import { openStore, type ApprovalRecord, type Store } from '../../store/index.js';
import { defineTool } from '../../tools/index.js';

/*
 * Runs for the dashboard's tests: a `refunds` agent gated for `finance` and a `desk` agent gated
 * for `support`, whose tasks, tool arguments, tool results and answers carry HTML and script
 * payloads. Test support only: the published build leaves `__tests__` folders out.
 */

/** Markup that would run or show if any page rendered it as HTML instead of text. */
export const XSS = {
  task: `Refund A-1 <img src=x onerror="window.__xss='task'"> please`,
  argument: `A-1"><script>window.__xss='argument'</script>`,
  result: `<script>window.__xss='result'</script><b>bold?</b>`,
  output: `Done </pre><svg onload="window.__xss='output'"></svg>`,
  reason: `<iframe src="javascript:window.__xss='reason'">`,
} as const;

export interface DashboardFixture {
  readonly store: Store;
  readonly runtime: Runtime;
  readonly agents: readonly Agent[];
  /** Tokens by role and group. */
  readonly tokens: {
    readonly finance: string;
    readonly financeViewer: string;
    readonly support: string;
    readonly admin: string;
  };
  /** What the refund tool was asked to do, in order. */
  readonly refunds: unknown[];
  /** Run a support ticket to its end (no gate on its read tool). */
  runDeskTicket(task?: string): Promise<string>;
  /** Submit a refund and wait until it is parked on its approval. */
  parkRefund(task?: string): Promise<ApprovalRecord>;
  close(): Promise<void>;
}

export async function dashboardFixture({
  storeUrl = 'sqlite::memory:',
  worker = true,
}: { storeUrl?: string; worker?: boolean } = {}): Promise<DashboardFixture> {
  const store = await openStore(storeUrl);
  const refunds: unknown[] = [];
  const lookup = defineTool({
    name: 'lookup_order',
    description: 'Find an order',
    input: z.object({ orderId: z.string() }),
    effect: 'read',
    untrustedOutput: true,
    run: () => Promise.resolve({ note: XSS.result, amountCents: 900 }),
  });
  const refund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    run(input) {
      refunds.push(input);
      return Promise.resolve({ refunded: input.amountCents });
    },
  });
  const refundsAgent = defineAgent({
    name: 'refunds',
    instructions: 'Refund orders after looking them up.',
    model: simulator({
      modelId: 'dashboard-script',
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'lookup_order', args: { orderId: XSS.argument } }] }
          : step === 1
            ? {
                toolCalls: [
                  { name: 'issue_refund', args: { orderId: XSS.argument, amountCents: 900 } },
                ],
              }
            : { text: XSS.output },
    }),
    tools: [lookup, refund],
    gates: { approverGroup: 'finance' },
  });
  const deskAgent = defineAgent({
    name: 'desk',
    instructions: 'Answer support tickets.',
    model: simulator({
      modelId: 'dashboard-script',
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'lookup_order', args: { orderId: 'B-2' } }] }
          : { text: 'Your order B-2 is on its way.' },
    }),
    tools: [lookup],
    gates: { approverGroup: 'support' },
  });
  const agents = [refundsAgent, deskAgent];
  const runtime = createRuntime({ store, agents });
  const running = worker ? runtime.startWorker({ pollMs: 10 }) : undefined;
  const add = async (name: string, groups: string[], role: 'viewer' | 'approver' | 'admin') =>
    (await runtime.approvals.addApprover({ name, groups, role })).token;
  const tokens = {
    finance: await add('fin', ['finance'], 'approver'),
    financeViewer: await add('vic', ['finance'], 'viewer'),
    support: await add('sup', ['support'], 'approver'),
    admin: await add('root', [], 'admin'),
  };
  return {
    store,
    runtime,
    agents,
    tokens,
    refunds,
    async runDeskTicket(task = 'Where is order B-2?') {
      const result = await runtime.run('desk', task);
      return result.id;
    },
    async parkRefund(task = XSS.task) {
      const record = await runtime.submit('refunds', task);
      for (;;) {
        const [approval] = await store.approvals.list({ runId: record.id, states: ['pending'] });
        if (approval && (await store.getRun(record.id))?.status === 'waiting') return approval;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      await running?.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    },
  };
}
