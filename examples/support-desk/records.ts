import { z } from 'zod';

/**
 * The records of the support desk's company backend, as zod schemas: the backend returns
 * them, and the scripted agents parse tool results with them, the way a typed client would.
 */

const PaymentMethodSchema = z.object({ brand: z.string(), last4: z.string() });

export const CustomerSchema = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  tier: z.enum(['standard', 'gold']),
  customerSince: z.string(),
  defaultPaymentMethod: PaymentMethodSchema,
});
export type Customer = z.output<typeof CustomerSchema>;

export const OrderSchema = z.object({
  id: z.string(),
  customerId: z.string(),
  placedAt: z.string(),
  status: z.enum(['payment_failed', 'in_transit', 'delivered']),
  items: z.array(
    z.object({
      sku: z.string(),
      name: z.string(),
      quantity: z.number(),
      unitPriceCents: z.number(),
    }),
  ),
  totalCents: z.number(),
  currency: z.string(),
  paymentId: z.string(),
  trackingNumber: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  /** Sum of the refunds issued against the order so far. */
  refundedCents: z.number(),
});
export type Order = z.output<typeof OrderSchema>;

export const PaymentSchema = z.object({
  id: z.string(),
  orderId: z.string(),
  customerId: z.string(),
  amountCents: z.number(),
  currency: z.string(),
  status: z.enum(['captured', 'declined']),
  method: PaymentMethodSchema,
  attemptedAt: z.string(),
  decline: z.object({ code: z.string(), issuerMessage: z.string() }).nullable(),
});
export type Payment = z.output<typeof PaymentSchema>;

export const RefundSchema = z.object({
  id: z.string(),
  orderId: z.string(),
  paymentId: z.string(),
  amountCents: z.number(),
  currency: z.string(),
  reason: z.string(),
  method: PaymentMethodSchema,
  issuedAt: z.string(),
  /** True when this request's idempotency key had already issued the refund. */
  replayed: z.boolean(),
});
export type Refund = z.output<typeof RefundSchema>;

export const SentEmailSchema = z.object({
  id: z.string(),
  to: z.string(),
  subject: z.string(),
  sentAt: z.string(),
  replayed: z.boolean(),
});
export type SentEmail = z.output<typeof SentEmailSchema>;

export const HelpSearchSchema = z.object({
  articles: z.array(
    z.object({ id: z.string(), title: z.string(), url: z.string(), excerpt: z.string() }),
  ),
});
export type HelpSearch = z.output<typeof HelpSearchSchema>;

export const ShipmentSchema = z.object({
  trackingNumber: z.string(),
  carrier: z.string(),
  orderId: z.string(),
  status: z.enum(['in_transit', 'delivered']),
  lastScan: z.object({ at: z.string(), location: z.string(), description: z.string() }),
  estimatedDelivery: z.string().nullable(),
});
export type Shipment = z.output<typeof ShipmentSchema>;

export interface HelpArticle {
  readonly id: string;
  readonly title: string;
  readonly url: string;
  readonly body: string;
}

/** `$72.50`. */
export function formatMoney(cents: number, currency = 'USD'): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
}
