import type { ScriptContext, SimulatedTurn } from '../../src/index.js';
import {
  CustomerSchema,
  HelpSearchSchema,
  OrderSchema,
  PaymentSchema,
  RefundSchema,
  SentEmailSchema,
  ShipmentSchema,
  formatMoney,
  type Customer,
  type Order,
  type Refund,
  type Shipment,
} from './records.js';
import {
  answer,
  callTool,
  describeFailure,
  emailsIn,
  idIn,
  latest,
  readExchanges,
  type ToolExchange,
} from './conversation.js';

/**
 * The scripted "models" of the support desk. Each is a function of the conversation, like a
 * model: it reads the task and every tool result so far, and picks the next tool call or
 * writes the final answer from the data it got back. Every failure fed back (a tool_result
 * with isError) leads to an answer that says what went wrong, so a script never spins on an
 * error, except the one deliberate flaw in `generalScript` that the identical-call limit stops.
 */

const ORDER_ID = /\bORD-\d{4}\b/i;
const PAYMENT_ID = /\bPAY-\d{4}\b/i;
const TRACKING_NUMBER = /\b1Z[0-9A-Z]{16}\b/i;

/** Refund requests: verify the customer owns the order, refund what is left, confirm by email. */
export function refundsScript({ task, request }: ScriptContext): SimulatedTurn {
  const exchanges = readExchanges(request.messages);
  const email = emailsIn(task)[0];
  const orderId = idIn(task, ORDER_ID);
  if (email === undefined || orderId === undefined) {
    return answer(
      "To refund an order I need the customer's email address and the order id (ORD-####).",
    );
  }
  const reason = /\(([^)]+)\)/.exec(task)?.[1] ?? 'customer request';

  const customer = latest(exchanges, 'lookup_customer', CustomerSchema);
  if (!customer) return callTool('lookup_customer', { query: email });
  if (customer.kind === 'error') {
    return answer(
      `I could not verify the customer ${email}: ${describeFailure('lookup_customer', customer)}. No refund was issued.`,
    );
  }
  const order = latest(exchanges, 'lookup_order', OrderSchema);
  if (!order) return callTool('lookup_order', { orderId });
  if (order.kind === 'error') {
    return answer(
      `I could not find order ${orderId}: ${describeFailure('lookup_order', order)}. No refund was issued.`,
    );
  }
  const refusal = refundRefusal(customer.value, order.value);
  if (refusal !== undefined) return answer(refusal);

  const refund = latest(exchanges, 'issue_refund', RefundSchema);
  const refundable = order.value.totalCents - order.value.refundedCents;
  if (!refund) return callTool('issue_refund', { orderId, amountCents: refundable, reason });
  if (refund.kind === 'error') {
    return answer(
      `The refund for ${orderId} was not issued: ${describeFailure('issue_refund', refund)}. ` +
        'Please retry later or escalate to the payments team.',
    );
  }

  const confirmation = latest(exchanges, 'send_email', SentEmailSchema);
  if (!confirmation) {
    return callTool('send_email', {
      to: customer.value.email,
      subject: `Your refund for order ${orderId}`,
      body: refundEmail(customer.value, order.value, refund.value),
    });
  }
  const emailed =
    confirmation.kind === 'ok'
      ? `Confirmation ${confirmation.value.id} sent to ${confirmation.value.to}.`
      : `The confirmation email was not sent (${confirmation.errorType}); please resend it.`;
  return answer(
    `Refunded ${formatMoney(refund.value.amountCents, refund.value.currency)} for order ${orderId} ` +
      `(${itemList(order.value)}) to ${customer.value.name}'s ${card(refund.value.method)}: ` +
      `refund ${refund.value.id}, reason "${refund.value.reason}"` +
      `${refund.value.replayed ? ' (the processor already had this refund under the same idempotency key; it was not issued twice)' : ''}. ` +
      `It appears on the statement in 5-10 business days. ${emailed}`,
  );
}

/** Payment questions: ask the gateway, explain a decline with the help center's advice. */
export function paymentsScript({ task, request }: ScriptContext): SimulatedTurn {
  const exchanges = readExchanges(request.messages);
  const paymentId = idIn(task, PAYMENT_ID);
  if (paymentId === undefined)
    return answer('Which payment do you mean? I need its id (PAY-####).');

  const payment = latest(exchanges, 'get_payment_status', PaymentSchema);
  if (!payment) return callTool('get_payment_status', { paymentId });
  if (payment.kind === 'error') {
    return answer(
      payment.errorType === 'not_found'
        ? `There is no payment ${paymentId} on record; please check the id.`
        : `I could not reach the payments gateway to check ${paymentId}: ${describeFailure('get_payment_status', payment)}. Please try again in a few minutes.`,
    );
  }
  const { value } = payment;
  const summary = `Payment ${value.id} (${formatMoney(value.amountCents, value.currency)} on ${card(value.method)}, ${day(value.attemptedAt)}, order ${value.orderId})`;
  if (value.status !== 'declined' || value.decline === null) {
    return answer(`${summary} was not declined: its status is ${value.status}.`);
  }

  const help = latest(exchanges, 'search_help_center', HelpSearchSchema);
  if (!help)
    return callTool('search_help_center', {
      query: `card declined ${value.decline.code}`,
      limit: 1,
    });
  const article = help.kind === 'ok' ? help.value.articles[0] : undefined;
  return answer(
    `${summary} was declined by the card issuer with code ${value.decline.code}: ` +
      `"${value.decline.issuerMessage}" Nothing was charged. ${declineAdvice(value.decline.code)}` +
      (article ? ` See the help-center article "${article.title}" (${article.url}).` : ''),
  );
}

/** Email changes: find the account, change it, tell the previous address. */
export function accountScript({ task, request }: ScriptContext): SimulatedTurn {
  const exchanges = readExchanges(request.messages);
  const [currentEmail, newEmail] = emailsIn(task);
  if (currentEmail === undefined || newEmail === undefined) {
    return answer('To change an email address I need the current address and the new one.');
  }
  const customer = latest(exchanges, 'lookup_customer', CustomerSchema);
  if (!customer) return callTool('lookup_customer', { query: currentEmail });
  if (customer.kind === 'error') {
    return answer(
      `I could not find the account for ${currentEmail}: ${describeFailure('lookup_customer', customer)}.`,
    );
  }
  const updated = latest(exchanges, 'update_email', CustomerSchema);
  if (!updated) return callTool('update_email', { customerId: customer.value.id, newEmail });
  if (updated.kind === 'error') {
    return answer(
      `The email of ${customer.value.id} was not changed: ${describeFailure('update_email', updated)}.`,
    );
  }
  const notice = latest(exchanges, 'send_email', SentEmailSchema);
  if (!notice) {
    return callTool('send_email', {
      to: currentEmail,
      subject: 'The email address on your account was changed',
      body:
        `Hello ${customer.value.name},\n\nThe sign-in email of your account ${customer.value.id} ` +
        `was changed from ${currentEmail} to ${newEmail} at your request. If you did not ask ` +
        'for this, reply to this message right away.\n\nSupport',
    });
  }
  return answer(
    `Changed the sign-in email of ${customer.value.name} (${customer.value.id}) from ${currentEmail} ` +
      `to ${updated.value.email}. ` +
      (notice.kind === 'ok'
        ? `A notice (${notice.value.id}) went to the previous address.`
        : `The notice to the previous address failed (${notice.errorType}); please resend it.`),
  );
}

/**
 * General questions: parcel tracking, order status, and the help center for the rest.
 *
 * It has one deliberate flaw, the looping behaviour the demo shows: when the carrier has no
 * record of a tracking number, it is sure the carrier will have it on the next try and asks
 * again with the same arguments, forever. Keel's identical-call limit ends the run.
 */
export function generalScript({ task, request }: ScriptContext): SimulatedTurn {
  const exchanges = readExchanges(request.messages);
  const trackingNumber = idIn(task, TRACKING_NUMBER);
  const orderId = idIn(task, ORDER_ID);

  if (trackingNumber !== undefined) return track(exchanges, trackingNumber);

  if (orderId !== undefined) {
    const order = latest(exchanges, 'lookup_order', OrderSchema);
    if (!order) return callTool('lookup_order', { orderId });
    if (order.kind === 'error')
      return answer(
        `I could not find order ${orderId}: ${describeFailure('lookup_order', order)}.`,
      );
    if (order.value.trackingNumber === null) {
      return answer(
        `Order ${orderId} (${itemList(order.value)}) has not shipped: its status is ${order.value.status}.`,
      );
    }
    return track(exchanges, order.value.trackingNumber);
  }

  const help = latest(exchanges, 'search_help_center', HelpSearchSchema);
  if (!help) return callTool('search_help_center', { query: task, limit: 2 });
  const article = help.kind === 'ok' ? help.value.articles[0] : undefined;
  if (!article)
    return answer("I did not find a help-center article about that; I'll pass it to a colleague.");
  return answer(`From the help center, "${article.title}" (${article.url}): ${article.excerpt}`);
}

function track(exchanges: readonly ToolExchange[], trackingNumber: string): SimulatedTurn {
  const shipment = latest(exchanges, 'track_shipment', ShipmentSchema);
  if (!shipment) return callTool('track_shipment', { trackingNumber });
  if (shipment.kind === 'error') {
    // The flaw: "the carrier must have it by now". Same tool, same arguments, again.
    if (shipment.errorType === 'not_found') return callTool('track_shipment', { trackingNumber });
    return answer(
      `The carrier could not be asked about ${trackingNumber}: ${describeFailure('track_shipment', shipment)}.`,
    );
  }
  return answer(shipmentSummary(shipment.value));
}

function refundRefusal(customer: Customer, order: Order): string | undefined {
  if (order.customerId !== customer.id) {
    return `Order ${order.id} does not belong to ${customer.email} (${customer.id}), so I cannot refund it for them.`;
  }
  if (order.status !== 'delivered') {
    return `Order ${order.id} is ${order.status.replace('_', ' ')}; only delivered orders can be refunded.`;
  }
  if (order.totalCents - order.refundedCents <= 0) {
    return `Order ${order.id} has already been refunded in full (${formatMoney(order.refundedCents, order.currency)}).`;
  }
  return undefined;
}

function refundEmail(customer: Customer, order: Order, refund: Refund): string {
  return (
    `Hello ${customer.name},\n\nWe have refunded ${formatMoney(refund.amountCents, refund.currency)} ` +
    `for order ${order.id} (${itemList(order)}) to your ${card(refund.method)} ` +
    `(refund ${refund.id}). It will appear on your statement within 5-10 business days.\n\n` +
    'Sorry for the trouble,\nSupport'
  );
}

function shipmentSummary(shipment: Shipment): string {
  const scan = `${shipment.lastScan.description} in ${shipment.lastScan.location} on ${day(shipment.lastScan.at)}`;
  return shipment.status === 'delivered'
    ? `${shipment.carrier} ${shipment.trackingNumber} (order ${shipment.orderId}) was delivered: ${scan}.`
    : `${shipment.carrier} ${shipment.trackingNumber} (order ${shipment.orderId}) is in transit. Last scan: ${scan}. ` +
        `Expected delivery: ${shipment.estimatedDelivery ?? 'not yet known'}.`;
}

function declineAdvice(code: string): string {
  switch (code) {
    case 'insufficient_funds':
      return 'The customer can pay with another card, or retry once the balance allows it.';
    case 'expired_card':
      return 'The customer should update the card details and retry.';
    default:
      return 'The customer should contact their bank, which decides declines.';
  }
}

function itemList(order: Order): string {
  return order.items
    .map((item) => (item.quantity > 1 ? `${item.quantity} × ${item.name}` : item.name))
    .join(', ');
}

function card(method: { brand: string; last4: string }): string {
  return `${method.brand} ending ${method.last4}`;
}

function day(isoTime: string): string {
  return isoTime.slice(0, 10);
}
