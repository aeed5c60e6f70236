import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineRouter,
  defineTool,
  memoryDecisionCache,
  openStore,
  simulator,
  type Agent,
  type DecisionCache,
  type Runtime,
  type Tool,
} from '../src/index.js';
import { createPriceTable, type ModelPrice } from '../src/exports/model.js';
import { round, seededRandom } from './stats.js';

/**
 * Cost per support ticket, from the price table and the usage each simulated call reports
 * (tokens counted from the real requests: instructions, tool specs, ticket, tool results):
 *
 * - tiered: a router on `fast` (claude-haiku-4-5) with the decision cache, then the chosen
 *   route: a department's executor on `frontier` (claude-sonnet-4-6) holding only its own
 *   tools, or, for questions the help center answers, the `faq` agent on `fast` (no tools, one
 *   call);
 * - split, all frontier: the same router and routes, every call on `frontier`, no cache;
 * - generalist, all frontier: one frontier agent holding every department's instructions and
 *   tools and the help-center articles, as a desk without a router is built.
 *
 * Tickets: 240; 35% are help-center questions; 30% of all are verbatim repeats of ten common
 * tickets (what the cache can serve).
 */
export interface RoutingCostResult {
  readonly tickets: number;
  readonly repeatedTickets: number;
  readonly fast: string;
  readonly frontier: string;
  readonly tieredUsdPerTicket: number;
  readonly splitFrontierUsdPerTicket: number;
  readonly generalistFrontierUsdPerTicket: number;
  readonly routerCacheHits: number;
  readonly faqTickets: number;
  /** Where each configuration's money goes, USD per ticket. */
  readonly breakdown: {
    readonly tiered: CostBreakdown;
    readonly splitFrontier: CostBreakdown;
  };
  /**
   * The department executors' frontier cost as a share of the split all-frontier cost: with
   * executors on `frontier` in both, no saving elsewhere can bring the ratio below this.
   */
  readonly executorFloor: number;
  /** Tiered cost as a share of each all-frontier baseline. */
  readonly ratioToSplitFrontier: number;
  readonly ratioToGeneralistFrontier: number;
  readonly target: number;
}

export const ROUTING_COST_TARGET = 0.4;

export interface CostBreakdown {
  readonly router: number;
  readonly faq: number;
  readonly executors: number;
}

const DEPARTMENTS = ['billing', 'shipping', 'refunds', 'account'] as const;
type Department = (typeof DEPARTMENTS)[number];

type Route = Department | 'faq';

interface Ticket {
  readonly text: string;
  readonly department: Route;
}

/** The help center: ten articles, at the length real ones run to (~80 tokens each). */
const FAQ: readonly { readonly question: string; readonly answer: string }[] = [
  ['How do I reset my password?', 'Use "Forgot password" on the sign-in page'],
  ['How long does delivery take?', 'Standard delivery takes 2-4 business days'],
  ['What is your returns policy?', 'Unused items can be returned within 30 days'],
  ['Which payment methods do you accept?', 'We accept Visa, Mastercard, Amex and PayPal'],
  ['Do you ship abroad?', 'We ship to the EU, the UK and Switzerland'],
  ['How do I track my order?', 'The tracking link is in the shipping confirmation email'],
  ['Can I change my order after placing it?', 'Orders can be changed until they ship'],
  ['How do I download an invoice?', 'Invoices are under Orders in your account'],
  ['Do you offer gift wrapping?', 'Gift wrapping is offered at checkout for $4'],
  ['How do I unsubscribe from emails?', 'Every email has an unsubscribe link at the bottom'],
].map(([question, answer]) => ({
  question: question ?? '',
  answer: `${answer ?? ''}. This applies to every order placed on the website or in the app, for customers in every country we ship to; the details, exceptions and the steps to follow are on the help-center page of the same name, which is updated whenever the policy changes.`,
}));

const FAQ_INSTRUCTIONS = [
  'You answer questions the help center covers, from these articles only, quoting the article.',
  ...FAQ.map(
    (article, index) => `Article ${String(index + 1)}: ${article.question} ${article.answer}`,
  ),
].join('\n');

const FAQ_ANSWER =
  'Thanks for asking. The help center covers this: please see the article quoted below, which has the details and the steps to follow. If it does not answer your question, reply to this message and a specialist will pick it up.';

const OPENINGS: Record<Department, readonly string[]> = {
  billing: [
    'I was charged twice for the same order and I would like to understand why.',
    'My invoice shows a VAT amount that does not match the rate of my country.',
    'The card on my subscription expired and the renewal failed; how do I pay now?',
  ],
  shipping: [
    'My parcel has not moved for five days according to the tracking page.',
    'The courier left a note but I was home all day; can you arrange a new delivery?',
    'I need to change the delivery address of an order that has not shipped yet.',
  ],
  refunds: [
    'I returned the jacket two weeks ago and still have not received my refund.',
    'The blender arrived broken and I would like my money back rather than a replacement.',
    'Part of my order was missing; I want a partial refund for the missing items.',
  ],
  account: [
    'I cannot log in: the password reset email never arrives in my inbox.',
    'Please delete my account and all personal data you hold about me.',
    'I want to merge two accounts I created with different email addresses.',
  ],
};

const DETAILS = [
  'I have been a customer for several years and this has never happened before.',
  'I already tried the help centre articles but they did not answer my question.',
  'I contacted you by phone last week and was promised an email that never came.',
  'This is urgent because I am travelling next week and will not be reachable.',
  'Attached are screenshots of the confirmation page and my bank statement.',
  'The order was a gift, so please do not send anything to the billing address.',
  'I would appreciate a reply in writing that I can keep for my records.',
  'Your chat assistant kept sending me in circles between the same two pages.',
];

function tickets(count: number, repeatShare: number, faqShare: number): Ticket[] {
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const common: Ticket[] = Array.from({ length: 10 }, (_, index) => {
    if (index % 3 === 2) return { department: 'faq', text: FAQ[index]?.question ?? '' };
    const department = DEPARTMENTS[index % DEPARTMENTS.length] as Department;
    return { department, text: `${pick(OPENINGS[department])} Order number A-${1000 + index}.` };
  });
  return Array.from({ length: count }, (_, index) => {
    if (random() < repeatShare) return pick(common);
    const details = Array.from({ length: 2 + Math.floor(random() * 6) }, () => pick(DETAILS));
    if (random() < faqShare) {
      return {
        department: 'faq',
        text: [`Hello, ${pick(FAQ).question}`, ...details.slice(0, 2), 'Thanks, Sam'].join(' '),
      };
    }
    const department = pick(DEPARTMENTS);
    return {
      department,
      text: [
        `Hello, ${pick(OPENINGS[department])}`,
        `The order number is A-${String(20_000 + index)}.`,
        ...details,
        'Thank you for your help, Sam',
      ].join(' '),
    };
  });
}

/** A department's policy, at the length real support instructions run to (~600 tokens). */
function policy(department: Department): string {
  const rules = Array.from(
    { length: 18 },
    (_, index) =>
      `${String(index + 1)}. For ${department} requests, check the order record and the customer's history before answering; quote the exact amounts, dates and references from the tools, never estimates, and say what happens next and when.`,
  );
  return [`You are the ${department} specialist of the support desk.`, ...rules].join('\n');
}

function departmentTools(department: Department): Tool[] {
  return ['lookup', 'history', 'action'].map((kind) =>
    defineTool({
      name: `${department}_${kind}`,
      description: `${kind} for ${department}: reads or updates the ${department} records of one order, with the amounts, dates, references and the audit trail of earlier changes.`,
      input: z.object({ orderId: z.string(), note: z.string().optional() }),
      effect: 'read',
      run: (input) =>
        Promise.resolve({
          orderId: input.orderId,
          department,
          status: 'found',
          events: Array.from({ length: 8 }, (_, index) => ({
            at: `2026-11-${String(10 + index)}T09:00:00Z`,
            what: `${department} record updated by the back office (step ${String(index + 1)})`,
          })),
        }),
    }),
  );
}

const ANSWER =
  'Thank you for reaching out. I have checked your order and its history: the record shows the request you describe, and I have applied the correction our policy allows. You will receive a confirmation email within the next hour with the reference of this change, and the amount or delivery date shown there is final. If anything still looks wrong after that, reply to this message and quote the reference so we can pick it up immediately.';

/** Executor script: look the order up with the department's tool, then answer. */
function executorModel(department: Route | 'desk', price: ModelPrice, modelId: string) {
  return simulator({
    modelId,
    price,
    script: ({ step, task }) => {
      if (step > 0) return { text: ANSWER };
      const owner = department === 'desk' ? departmentOf(task) : department;
      // A help-center question needs no tool: one call answers it.
      if (owner === 'faq') return { text: FAQ_ANSWER };
      const orderId = /A-\d+/.exec(task)?.[0] ?? 'unknown';
      return { toolCalls: [{ name: `${owner}_lookup`, args: { orderId } }] };
    },
  });
}

let ticketDepartments = new Map<string, Route>();
function departmentOf(text: string): Route {
  return ticketDepartments.get(text) ?? 'billing';
}

async function costOfTiered(options: {
  tickets: readonly Ticket[];
  routerModel: { price: ModelPrice; modelId: string };
  faqModel: { price: ModelPrice; modelId: string };
  executorModel: { price: ModelPrice; modelId: string };
  cache: DecisionCache | undefined;
}): Promise<{ usd: number; cacheHits: number; breakdown: CostBreakdown }> {
  const executors = Object.fromEntries(
    DEPARTMENTS.map((department) => [
      department,
      defineAgent({
        name: department,
        description: `${department} questions`,
        model: executorModel(
          department,
          options.executorModel.price,
          options.executorModel.modelId,
        ),
        instructions: policy(department),
        tools: departmentTools(department),
      }),
    ]),
  ) as Record<Department, Agent>;
  const faq = defineAgent({
    name: 'faq',
    description: 'questions the help center answers',
    model: executorModel('faq', options.faqModel.price, options.faqModel.modelId),
    instructions: FAQ_INSTRUCTIONS,
  });
  const router = defineRouter({
    model: simulator({
      modelId: options.routerModel.modelId,
      price: options.routerModel.price,
      script: ({ task }) => ({
        text: JSON.stringify({ value: departmentOf(task), confidence: 0.92 }),
      }),
    }),
    routes: { ...executors, faq },
    minConfidence: 0.7,
    fallback: 'billing',
    cache: options.cache,
  });
  return withRuntime([...Object.values(executors), faq], async (runtime) => {
    let routerUsd = 0;
    let cacheHits = 0;
    const runIds: string[] = [];
    for (const ticket of options.tickets) {
      const routed = await router.route(ticket.text, { runtime });
      routerUsd += routed.decision.costUsd ?? Number.NaN;
      if (routed.decision.status === 'cached') cacheHits += 1;
      if (routed.runId) runIds.push(routed.runId);
    }
    const byAgent = await settle(runtime, runIds);
    const faqUsd = byAgent.get('faq') ?? 0;
    const executorsUsd = [...byAgent.values()].reduce((sum, usd) => sum + usd, 0) - faqUsd;
    return {
      usd: routerUsd + faqUsd + executorsUsd,
      cacheHits,
      breakdown: { router: routerUsd, faq: faqUsd, executors: executorsUsd },
    };
  });
}

async function costOfGeneralist(
  list: readonly Ticket[],
  model: { price: ModelPrice; modelId: string },
): Promise<number> {
  const desk = defineAgent({
    name: 'desk',
    model: executorModel('desk', model.price, model.modelId),
    instructions: [...DEPARTMENTS.map(policy), FAQ_INSTRUCTIONS].join('\n\n'),
    tools: DEPARTMENTS.flatMap(departmentTools),
  });
  return withRuntime([desk], async (runtime) => {
    const runIds: string[] = [];
    for (const ticket of list) runIds.push((await runtime.submit('desk', ticket.text)).id);
    const byAgent = await settle(runtime, runIds);
    return byAgent.get('desk') ?? Number.NaN;
  });
}

/** Wait for every run; their cost summed per agent. */
async function settle(runtime: Runtime, runIds: readonly string[]): Promise<Map<string, number>> {
  const worker = runtime.startWorker({ concurrency: 8, pollMs: 5 });
  const usd = new Map<string, number>();
  try {
    for (const runId of runIds) {
      const result = await runtime.wait(runId, { pollMs: 5 });
      if (result.status !== 'succeeded') throw new Error(`bench run ${runId} ${result.status}`);
      const agent = (await runtime.store.getRun(runId))?.agent ?? 'unknown';
      const cost = result.usage.costKnown ? result.usage.costUsd : Number.NaN;
      usd.set(agent, (usd.get(agent) ?? 0) + cost);
    }
  } finally {
    await worker.stop();
  }
  return usd;
}

async function withRuntime<T>(agents: readonly Agent[], work: (runtime: Runtime) => Promise<T>) {
  const store = await openStore('sqlite::memory:');
  const runtime = createRuntime({ store, agents });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
    await store.close();
  }
}

export async function measureRoutingCost({
  count = 240,
  repeatShare = 0.3,
  faqShare = 0.35,
} = {}): Promise<RoutingCostResult> {
  const list = tickets(count, repeatShare, faqShare);
  ticketDepartments = new Map(list.map((ticket) => [ticket.text, ticket.department]));
  const prices = createPriceTable();
  const priced = (provider: string, modelId: string) => {
    const found = prices.lookup(provider, modelId);
    if (!found) throw new Error(`no price for ${provider}:${modelId}`);
    return { price: found.price, modelId };
  };
  const fast = priced('anthropic', 'claude-haiku-4-5');
  const frontier = priced('anthropic', 'claude-sonnet-4-6');
  const tiered = await costOfTiered({
    tickets: list,
    routerModel: fast,
    faqModel: fast,
    executorModel: frontier,
    cache: memoryDecisionCache(),
  });
  const split = await costOfTiered({
    tickets: list,
    routerModel: frontier,
    faqModel: frontier,
    executorModel: frontier,
    cache: undefined,
  });
  const generalist = await costOfGeneralist(list, frontier);
  const perTicket = (usd: number) => round(usd / count, 6);
  const perTicketBreakdown = (breakdown: CostBreakdown): CostBreakdown => ({
    router: perTicket(breakdown.router),
    faq: perTicket(breakdown.faq),
    executors: perTicket(breakdown.executors),
  });
  return {
    tickets: count,
    repeatedTickets: count - new Set(list.map((ticket) => ticket.text)).size,
    fast: `anthropic:${fast.modelId}`,
    frontier: `anthropic:${frontier.modelId}`,
    tieredUsdPerTicket: perTicket(tiered.usd),
    splitFrontierUsdPerTicket: perTicket(split.usd),
    generalistFrontierUsdPerTicket: perTicket(generalist),
    routerCacheHits: tiered.cacheHits,
    faqTickets: list.filter((ticket) => ticket.department === 'faq').length,
    breakdown: {
      tiered: perTicketBreakdown(tiered.breakdown),
      splitFrontier: perTicketBreakdown(split.breakdown),
    },
    executorFloor: round(split.breakdown.executors / split.usd, 3),
    ratioToSplitFrontier: round(tiered.usd / split.usd, 3),
    ratioToGeneralistFrontier: round(tiered.usd / generalist, 3),
    target: ROUTING_COST_TARGET,
  };
}

export function renderRoutingCost(result: RoutingCostResult): string {
  const usd = (value: number) => `$${value.toFixed(5)}`;
  const verdict = (ratio: number) => (ratio <= result.target ? 'ok' : 'OVER');
  return [
    `Support desk cost per ticket (${String(result.tickets)} simulated tickets, ${String(result.repeatedTickets)} repeats; prices from the price table)`,
    `  router on fast (${result.fast}) + cache, executors on frontier   ${usd(result.tieredUsdPerTicket)}   router cache hits ${String(result.routerCacheHits)}`,
    `  baseline: same router + executors, all on frontier (${result.frontier})   ${usd(result.splitFrontierUsdPerTicket)}   tiered = ${String(Math.round(result.ratioToSplitFrontier * 100))}%   target <= ${String(result.target * 100)}%   ${verdict(result.ratioToSplitFrontier)}`,
    `  baseline: one generalist agent on frontier, every tool           ${usd(result.generalistFrontierUsdPerTicket)}   tiered = ${String(Math.round(result.ratioToGeneralistFrontier * 100))}%   target <= ${String(result.target * 100)}%   ${verdict(result.ratioToGeneralistFrontier)}`,
    `  where it goes (per ticket; ${String(result.faqTickets)} help-center tickets answered by the faq route):`,
    `    tiered           router ${usd(result.breakdown.tiered.router)}   faq ${usd(result.breakdown.tiered.faq)}   department executors ${usd(result.breakdown.tiered.executors)}`,
    `    split frontier   router ${usd(result.breakdown.splitFrontier.router)}   faq ${usd(result.breakdown.splitFrontier.faq)}   department executors ${usd(result.breakdown.splitFrontier.executors)}`,
    `  the department executors' frontier calls are ${String(Math.round(result.executorFloor * 100))}% of the split all-frontier cost: with them on frontier in both, no ratio to that baseline can go below it`,
  ].join('\n');
}
