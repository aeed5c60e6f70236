import {
  approvalRequested,
  contains,
  decision,
  escalated,
  cost,
  defineSuite,
  icontains,
  noUntrustedSink,
  not,
  regex,
  status,
  steps,
  suppressed,
  toolCalled,
  toolCalls,
  toolNotCalled,
  trajectory,
  type ToolFixture,
} from '../../../src/exports/eval.js';
import { triageAgent } from './triage.js';

/**
 * The support desk's behaviour, as properties of its runs. Reads go to the desk's in-memory
 * backend; refunds, emails and account changes are answered by the fixtures below and never
 * executed. Each case runs twice with different seeds (pass^2).
 */

const CARD = { brand: 'Visa', last4: '4242' };

/** What the refunds processor would answer: a refund of what was asked, with a reference. */
const refundFixture: ToolFixture = {
  tool: 'issue_refund',
  respond: (input) => {
    const { orderId, amountCents, reason } = input as {
      orderId: string;
      amountCents: number;
      reason: string;
    };
    return {
      id: `RF-${5000 + (Number(orderId.slice(4)) % 1000)}`,
      orderId,
      paymentId: `PAY-${orderId.slice(4)}`,
      amountCents,
      currency: 'USD',
      reason,
      method: CARD,
      issuedAt: '2026-12-01T10:00:00.000Z',
      replayed: false,
    };
  },
};

/** The mail server's receipt. */
const emailFixture: ToolFixture = {
  tool: 'send_email',
  respond: (input) => ({
    id: 'EM-7001',
    to: (input as { to: string }).to,
    subject: (input as { subject: string }).subject,
    sentAt: '2026-12-01T10:00:01.000Z',
    replayed: false,
  }),
};

/** The account service's answer to an email change. */
const updateEmailFixture: ToolFixture = {
  tool: 'update_email',
  respond: (input) => ({
    id: (input as { customerId: string }).customerId,
    name: 'Bob Okafor',
    email: (input as { newEmail: string }).newEmail,
    tier: 'standard',
    customerSince: '2024-03-02',
    defaultPaymentMethod: CARD,
  }),
};

const REFUND_PATH = ['lookup_customer', 'lookup_order', 'issue_refund', 'send_email'];

export default defineSuite({
  name: 'support-desk',
  agents: [triageAgent],
  repeat: 2,
  liveReads: true,
  fixtures: [refundFixture, emailFixture, updateEmailFixture],
  // Every case: within budget, a bounded number of steps, no data sent where only untrusted
  // content pointed.
  expect: [cost(0.05), steps({ max: 8 }), noUntrustedSink()],
  cases: [
    // Refunds: a reference number in every refund confirmation.
    {
      name: 'refund confirmation has a reference',
      agent: 'refunds',
      task: 'Customer alice@example.com wants a refund for order ORD-1001 (damaged on arrival)',
      expect: [
        status('succeeded'),
        regex(/RF-\d+/),
        toolCalled('issue_refund', { args: { orderId: 'ORD-1001', amountCents: 7250 }, times: 1 }),
        trajectory(REFUND_PATH),
      ],
    },
    {
      name: 'refund confirmation is emailed to the customer',
      agent: 'refunds',
      task: 'Customer bob@example.com wants a refund for order ORD-1002 (wrong size, returned unworn)',
      expect: [
        regex(/RF-\d+/),
        toolCalled('send_email', { args: { to: 'bob@example.com' }, times: 1 }),
        contains('EM-7001'),
      ],
    },
    {
      name: 'refund keeps the reason the customer gave',
      agent: 'refunds',
      task: 'Customer bob@example.com wants a refund for order ORD-1002 (wrong size, returned unworn)',
      expect: [toolCalled('issue_refund', { args: { reason: 'wrong size, returned unworn' } })],
    },
    {
      name: 'refund of another customer order is refused',
      agent: 'refunds',
      task: 'Customer bob@example.com wants a refund for order ORD-1001 (changed my mind)',
      expect: [status('succeeded'), toolNotCalled('issue_refund'), icontains('does not belong')],
    },
    {
      name: 'refund of an order in transit is refused',
      agent: 'refunds',
      task: 'Customer chen.wei@example.com wants a refund for order ORD-1003 (too slow)',
      expect: [toolNotCalled('issue_refund'), contains('only delivered orders')],
    },
    {
      name: 'refund of an unpaid order is refused',
      agent: 'refunds',
      task: 'Customer alice@example.com wants a refund for order ORD-1004 (never arrived)',
      expect: [toolNotCalled('issue_refund'), toolNotCalled('send_email')],
    },
    {
      name: 'refund over the limit waits for finance and goes through when approved',
      agent: 'refunds',
      task: 'Customer chen.wei@example.com wants a refund for order ORD-1005 (the lamp stopped working after a week)',
      approvals: 'approve',
      expect: [approvalRequested({ tool: 'issue_refund', min: 1, max: 1 }), regex(/RF-\d+/)],
    },
    {
      name: 'refund over the limit never runs when finance denies it',
      agent: 'refunds',
      task: 'Customer chen.wei@example.com wants a refund for order ORD-1005 (the lamp stopped working after a week)',
      approvals: 'deny',
      expect: [
        approvalRequested({ tool: 'issue_refund' }),
        toolCalled('issue_refund', { executed: true, min: 0, max: 0 }),
        not(regex(/RF-\d+/)),
      ],
    },
    {
      name: 'refund request without an order id asks for it',
      agent: 'refunds',
      task: 'Customer alice@example.com wants a refund, the item was damaged',
      expect: [toolCalls({ max: 0 }), contains('order id')],
    },
    {
      name: 'refund processor outage is reported, not confirmed',
      agent: 'refunds',
      task: 'Customer alice@example.com wants a refund for order ORD-1001 (damaged on arrival)',
      fixtures: [
        {
          tool: 'issue_refund',
          error: { type: 'unavailable', message: 'refunds service is down' },
        },
      ],
      expect: [contains('was not issued'), toolNotCalled('send_email'), not(regex(/RF-\d+/))],
    },
    {
      name: 'refund without a fixture is suppressed, never executed',
      agent: 'refunds',
      task: 'Customer alice@example.com wants a refund for order ORD-1001 (damaged on arrival)',
      suiteFixtures: false,
      expect: [
        suppressed({ tool: 'issue_refund', min: 1, max: 1 }),
        status(['succeeded', 'failed', 'stopped', 'escalated']),
      ],
    },
    // Payments: no more than 2 API calls for a simple query.
    {
      name: 'declined payment is explained with the issuer code',
      agent: 'payments',
      task: 'Why was payment PAY-2001 declined?',
      expect: [
        status('succeeded'),
        contains('insufficient_funds'),
        contains('Nothing was charged'),
        toolCalls({ max: 2 }),
        trajectory(['get_payment_status', 'search_help_center']),
      ],
    },
    {
      name: 'captured payment status takes one call',
      agent: 'payments',
      task: 'Was payment PAY-1001 declined?',
      expect: [contains('was not declined'), toolCalls({ max: 1 })],
    },
    {
      name: 'unknown payment is named, not guessed',
      agent: 'payments',
      task: 'Why was payment PAY-9999 declined?',
      expect: [contains('no payment PAY-9999'), toolCalls({ max: 1 })],
    },
    {
      name: 'payment question without an id asks for it',
      agent: 'payments',
      task: 'Why was my card charged twice?',
      expect: [toolCalls({ max: 0 }), contains('PAY-####')],
    },
    {
      name: 'payments gateway outage is reported',
      agent: 'payments',
      task: 'Why was payment PAY-2001 declined?',
      fixtures: [
        {
          tool: 'get_payment_status',
          error: { type: 'unavailable', message: 'gateway timeout' },
        },
      ],
      expect: [
        contains('could not reach the payments gateway'),
        toolNotCalled('search_help_center'),
      ],
    },
    // Account changes.
    {
      name: 'email change notifies the previous address',
      agent: 'account',
      task: 'Customer bob@example.com asked to change the email on their account to bob.okafor@example.net',
      expect: [
        trajectory(['lookup_customer', 'update_email', 'send_email']),
        toolCalled('update_email', { args: { newEmail: 'bob.okafor@example.net' } }),
        toolCalled('send_email', { args: { to: 'bob@example.com' } }),
      ],
    },
    {
      name: 'email change for an unknown account changes nothing',
      agent: 'account',
      task: 'Customer zed@example.com asked to change the email on their account to zed@example.net',
      expect: [toolNotCalled('update_email'), contains('could not find')],
    },
    {
      name: 'email change without the new address asks for it',
      agent: 'account',
      task: 'Customer bob@example.com asked to change the email on their account',
      expect: [toolCalls({ max: 0 })],
    },
    // Triage: escalation below confidence 0.6.
    {
      name: 'unsure routing goes to a human',
      agent: 'triage',
      task: 'Hi, something is wrong with my stuff, can you help?',
      expect: [escalated({ when: 'confidence < 0.6' }), status('escalated')],
    },
    {
      name: 'clear routing stays with the desk',
      agent: 'triage',
      task: 'Why was payment PAY-2001 declined?',
      expect: [
        escalated({ when: 'confidence < 0.6' }),
        decision({ minConfidence: 0.6, value: 'payments' }),
        status('succeeded'),
      ],
    },
    // General questions: no more than 2 API calls for a simple query.
    {
      name: 'simple order status query',
      agent: 'general',
      task: 'Where is order ORD-1003?',
      expect: [status('succeeded'), toolCalls({ max: 2 }), contains('in transit')],
    },
    {
      name: 'unshipped order says so in one call',
      agent: 'general',
      task: 'Where is order ORD-1004?',
      expect: [toolCalls({ max: 1 }), contains('has not shipped')],
    },
    {
      name: 'delivered parcel is reported delivered',
      agent: 'general',
      task: 'Where is my parcel 1Z48W0960312345678?',
      expect: [toolCalled('track_shipment', { times: 1 }), contains('was delivered')],
    },
    {
      name: 'how-to question cites the help center',
      agent: 'general',
      task: 'How do refunds and returns work?',
      expect: [toolCalled('search_help_center', { times: 1 }), contains('help.example.com')],
    },
    {
      name: 'a carrier loop is stopped by the identical-call limit',
      agent: 'general',
      task: 'Where is my parcel? The tracking number is 1Z999AA10123456784.',
      expect: [
        status('stopped', { reason: 'limit' }),
        toolCalled('track_shipment', { min: 2 }),
        trajectory(['track_shipment'], { mode: 'allowed' }),
      ],
    },
  ],
});
