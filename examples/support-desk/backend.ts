import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import {
  RefundSchema,
  SentEmailSchema,
  formatMoney,
  type Customer,
  type HelpSearch,
  type Order,
  type Payment,
  type Refund,
  type SentEmail,
  type Shipment,
} from './records.js';
import { ARTICLES, CUSTOMERS, ORDERS, PAYMENTS, SHIPMENTS } from './seed-data.js';

/**
 * The support desk's "company backend": customers, orders, payments, refunds, outgoing email,
 * a help center and a parcel carrier, in memory. It stands in for the services a real support
 * team's tools would call, with their latency, their transient outages and their
 * idempotency-key deduplication.
 *
 * Side effects (refunds, email changes, sent emails) can also be written to a ledger file
 * (JSON lines) so that two processes see one world: a worker that is killed after issuing a
 * refund, and the worker that resumes its run, share the refund and its idempotency key.
 */

export const SERVICE_NAMES = [
  'customers',
  'orders',
  'payments',
  'refunds',
  'email',
  'help_center',
  'carrier',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** How a backend call fails. The tools map each code to the tool error of the same name. */
export const BACKEND_ERROR_CODES = [
  'not_found',
  'invalid_input',
  'conflict',
  'unavailable',
] as const;
export type BackendErrorCode = (typeof BACKEND_ERROR_CODES)[number];

export class BackendError extends Error {
  readonly code: BackendErrorCode;
  readonly service: ServiceName;

  constructor(code: BackendErrorCode, service: ServiceName, message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
    this.service = service;
  }
}
/** One side effect, as written to the ledger. */
const LedgerEntrySchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('refund'),
    idempotencyKey: z.string(),
    refund: RefundSchema,
  }),
  z.object({
    kind: z.literal('email_changed'),
    idempotencyKey: z.string(),
    customerId: z.string(),
    newEmail: z.string(),
  }),
  z.object({ kind: z.literal('email_sent'), idempotencyKey: z.string(), email: SentEmailSchema }),
]);
type LedgerEntry = z.output<typeof LedgerEntrySchema>;

/** Typical service latencies of the demo backend. */
export const DEFAULT_LATENCY_MS: Readonly<Record<ServiceName, number>> = Object.freeze({
  customers: 20,
  orders: 20,
  payments: 40,
  refunds: 60,
  email: 30,
  help_center: 15,
  carrier: 40,
});

/** A slow day: long enough for a worker to be killed between a refund and its receipt. */
export const SLOW_LATENCY_MS: Readonly<Record<ServiceName, number>> = Object.freeze({
  customers: 300,
  orders: 300,
  payments: 300,
  refunds: 2_500,
  email: 300,
  help_center: 200,
  carrier: 300,
});

export interface SupportBackendOptions {
  /** A JSON-lines file shared by every process that should see the same side effects. */
  readonly ledgerPath?: string | undefined;
  readonly latencyMs?: Partial<Record<ServiceName, number>> | undefined;
}

interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * The demo company's backend.
 *
 * ```ts
 * const backend = new SupportBackend();
 * backend.failNext('payments', { times: 1 });
 * await backend.getPayment('PAY-2001'); // throws BackendError('unavailable', ...)
 * ```
 */
export class SupportBackend {
  readonly #ledgerPath: string | undefined;
  readonly #latencyMs: Readonly<Record<ServiceName, number>>;
  readonly #customers = new Map(CUSTOMERS.map((customer) => [customer.id, { ...customer }]));
  readonly #refunds = new Map<string, Refund>();
  readonly #emailChanges = new Set<string>();
  readonly #sentEmails = new Map<string, SentEmail>();
  readonly #failures = new Map<ServiceName, { remaining: number; message: string }>();
  #ledgerLinesApplied = 0;

  constructor(options: SupportBackendOptions = {}) {
    this.#ledgerPath = options.ledgerPath;
    this.#latencyMs = { ...DEFAULT_LATENCY_MS, ...options.latencyMs };
    this.#sync();
  }

  /** Make the next `times` calls to a service fail with a transient `unavailable` error. */
  failNext(service: ServiceName, { times, message }: { times: number; message?: string }): void {
    this.#failures.set(service, {
      remaining: times,
      message: message ?? `${service} service unavailable (HTTP 503); try again shortly`,
    });
  }

  async findCustomer(query: string, options: CallOptions = {}): Promise<Customer> {
    await this.#service('customers', options);
    const needle = query.trim().toLowerCase();
    for (const customer of this.#customers.values()) {
      if (customer.id.toLowerCase() === needle || customer.email.toLowerCase() === needle) {
        return { ...customer };
      }
    }
    throw new BackendError('not_found', 'customers', `no customer with id or email "${query}"`);
  }

  async getOrder(orderId: string, options: CallOptions = {}): Promise<Order> {
    await this.#service('orders', options);
    const order = ORDERS.find((candidate) => candidate.id === orderId.trim().toUpperCase());
    if (!order) throw new BackendError('not_found', 'orders', `no order ${orderId}`);
    return { ...order, refundedCents: this.#refundedCents(order.id) };
  }

  async getPayment(paymentId: string, options: CallOptions = {}): Promise<Payment> {
    await this.#service('payments', options);
    const payment = PAYMENTS.find((candidate) => candidate.id === paymentId.trim().toUpperCase());
    if (!payment) throw new BackendError('not_found', 'payments', `no payment ${paymentId}`);
    return { ...payment };
  }

  /**
   * Refund (part of) an order to the card that paid for it. Deduplicated by idempotency key:
   * the same key returns the refund it already issued, with `replayed: true`.
   */
  async issueRefund(
    request: { orderId: string; amountCents: number; reason: string; idempotencyKey: string },
    options: CallOptions = {},
  ): Promise<Refund> {
    this.#failIfFlaky('refunds');
    this.#sync();
    const existing = this.#refunds.get(request.idempotencyKey);
    if (existing) return { ...existing, replayed: true };

    const order = ORDERS.find((candidate) => candidate.id === request.orderId.trim().toUpperCase());
    if (!order) throw new BackendError('not_found', 'refunds', `no order ${request.orderId}`);
    const payment = PAYMENTS.find((candidate) => candidate.id === order.paymentId);
    if (order.status === 'payment_failed' || payment?.status !== 'captured') {
      throw new BackendError('conflict', 'refunds', `order ${order.id} was never paid`);
    }
    const refundable = order.totalCents - this.#refundedCents(order.id);
    if (request.amountCents > refundable) {
      throw new BackendError(
        'conflict',
        'refunds',
        `order ${order.id} has ${formatMoney(refundable, order.currency)} left to refund; ` +
          `${formatMoney(request.amountCents, order.currency)} was asked`,
      );
    }
    const refund: Refund = {
      id: `RF-${String(5001 + this.#refunds.size)}`,
      orderId: order.id,
      paymentId: payment.id,
      amountCents: request.amountCents,
      currency: order.currency,
      reason: request.reason,
      method: payment.method,
      issuedAt: new Date().toISOString(),
      replayed: false,
    };
    // The processor commits the refund first and confirms it slowly: a caller that dies in
    // between has refunded, and only the idempotency key keeps a retry from refunding twice.
    this.#record({ kind: 'refund', idempotencyKey: request.idempotencyKey, refund });
    await this.#wait('refunds', options);
    return { ...refund };
  }

  async updateEmail(
    request: { customerId: string; newEmail: string; idempotencyKey: string },
    options: CallOptions = {},
  ): Promise<Customer> {
    await this.#service('customers', options);
    this.#sync();
    const customer = this.#customers.get(request.customerId.trim().toUpperCase());
    if (!customer) {
      throw new BackendError('not_found', 'customers', `no customer ${request.customerId}`);
    }
    const newEmail = request.newEmail.trim().toLowerCase();
    if (!this.#emailChanges.has(request.idempotencyKey)) {
      const owner = [...this.#customers.values()].find((other) => other.email === newEmail);
      if (owner && owner.id !== customer.id) {
        throw new BackendError('conflict', 'customers', `${newEmail} belongs to another account`);
      }
      this.#record({
        kind: 'email_changed',
        idempotencyKey: request.idempotencyKey,
        customerId: customer.id,
        newEmail,
      });
    }
    return { ...customer };
  }

  /** Send an email; deduplicated by idempotency key like a real transactional-mail API. */
  async sendEmail(
    request: { to: string; subject: string; body: string; idempotencyKey: string },
    options: CallOptions = {},
  ): Promise<SentEmail> {
    await this.#service('email', options);
    this.#sync();
    const existing = this.#sentEmails.get(request.idempotencyKey);
    if (existing) return { ...existing, replayed: true };
    const email: SentEmail = {
      id: `EM-${String(7001 + this.#sentEmails.size)}`,
      to: request.to,
      subject: request.subject,
      sentAt: new Date().toISOString(),
      replayed: false,
    };
    this.#record({ kind: 'email_sent', idempotencyKey: request.idempotencyKey, email });
    return { ...email };
  }

  async searchHelpCenter(
    query: string,
    { limit = 3, ...options }: CallOptions & { limit?: number } = {},
  ): Promise<HelpSearch> {
    await this.#service('help_center', options);
    const words = query.toLowerCase().match(/[a-z_]{3,}/g) ?? [];
    const scored = ARTICLES.map((article) => {
      const text = `${article.title} ${article.body}`.toLowerCase();
      return { article, score: words.filter((word) => text.includes(word)).length };
    })
      .filter(({ score }) => score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);
    return {
      articles: scored.map(({ article }) => ({
        id: article.id,
        title: article.title,
        url: article.url,
        excerpt: article.body,
      })),
    };
  }

  async trackShipment(trackingNumber: string, options: CallOptions = {}): Promise<Shipment> {
    await this.#service('carrier', options);
    const shipment = SHIPMENTS.find(
      (candidate) => candidate.trackingNumber === trackingNumber.trim().toUpperCase(),
    );
    if (!shipment) {
      throw new BackendError(
        'not_found',
        'carrier',
        `the carrier has no record of tracking number ${trackingNumber}`,
      );
    }
    return { ...shipment };
  }

  /** Refunds issued so far (across processes sharing the ledger), oldest first. */
  refunds(): Refund[] {
    this.#sync();
    return [...this.#refunds.values()].map((refund) => ({ ...refund }));
  }

  /** Emails sent so far (across processes sharing the ledger), oldest first. */
  sentEmails(): SentEmail[] {
    this.#sync();
    return [...this.#sentEmails.values()].map((email) => ({ ...email }));
  }

  #refundedCents(orderId: string): number {
    this.#sync();
    let total = 0;
    for (const refund of this.#refunds.values()) {
      if (refund.orderId === orderId) total += refund.amountCents;
    }
    return total;
  }

  async #service(service: ServiceName, options: CallOptions): Promise<void> {
    await this.#wait(service, options);
    this.#failIfFlaky(service);
  }

  async #wait(service: ServiceName, { signal }: CallOptions): Promise<void> {
    const latency = this.#latencyMs[service];
    if (latency > 0) await delay(latency, undefined, signal ? { signal } : {});
  }

  #failIfFlaky(service: ServiceName): void {
    const failure = this.#failures.get(service);
    if (!failure || failure.remaining <= 0) return;
    failure.remaining -= 1;
    throw new BackendError('unavailable', service, failure.message);
  }

  /** Apply ledger lines other processes wrote since the last look. */
  #sync(): void {
    if (this.#ledgerPath === undefined || !existsSync(this.#ledgerPath)) return;
    const lines = readFileSync(this.#ledgerPath, 'utf8').split('\n').filter(Boolean);
    for (const line of lines.slice(this.#ledgerLinesApplied)) {
      this.#apply(LedgerEntrySchema.parse(JSON.parse(line)));
    }
    this.#ledgerLinesApplied = lines.length;
  }

  #record(entry: LedgerEntry): void {
    if (this.#ledgerPath !== undefined) {
      this.#sync();
      appendFileSync(this.#ledgerPath, `${JSON.stringify(entry)}\n`);
      this.#ledgerLinesApplied += 1;
    }
    this.#apply(entry);
  }

  #apply(entry: LedgerEntry): void {
    switch (entry.kind) {
      case 'refund':
        this.#refunds.set(entry.idempotencyKey, entry.refund);
        return;
      case 'email_changed': {
        this.#emailChanges.add(entry.idempotencyKey);
        const customer = this.#customers.get(entry.customerId);
        if (customer) customer.email = entry.newEmail;
        return;
      }
      case 'email_sent':
        this.#sentEmails.set(entry.idempotencyKey, entry.email);
        return;
      default:
        entry satisfies never;
    }
  }
}
