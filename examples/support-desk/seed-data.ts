import type { Customer, HelpArticle, Order, Payment, Shipment } from './records.js';

/** The demo company's data: three customers, their orders and payments, parcels, articles. */

const VISA = { brand: 'Visa', last4: '4242' };
const MASTERCARD = { brand: 'Mastercard', last4: '5454' };
const AMEX = { brand: 'Amex', last4: '0005' };

export const CUSTOMERS: readonly Customer[] = [
  {
    id: 'CUS-1001',
    name: 'Alice Moreau',
    email: 'alice@example.com',
    tier: 'gold',
    customerSince: '2022-03-14',
    defaultPaymentMethod: VISA,
  },
  {
    id: 'CUS-1002',
    name: 'Bob Okafor',
    email: 'bob@example.com',
    tier: 'standard',
    customerSince: '2024-07-02',
    defaultPaymentMethod: MASTERCARD,
  },
  {
    id: 'CUS-1003',
    name: 'Chen Wei',
    email: 'chen.wei@example.com',
    tier: 'standard',
    customerSince: '2025-01-20',
    defaultPaymentMethod: AMEX,
  },
];

export const ORDERS: readonly Omit<Order, 'refundedCents'>[] = [
  {
    id: 'ORD-1001',
    customerId: 'CUS-1001',
    placedAt: '2026-11-12T09:41:00Z',
    status: 'delivered',
    items: [
      { sku: 'KT-PO-02', name: 'Ceramic pour-over set', quantity: 1, unitPriceCents: 6400 },
      { sku: 'KT-FP-100', name: 'Paper filters (100)', quantity: 1, unitPriceCents: 850 },
    ],
    totalCents: 7250,
    currency: 'USD',
    paymentId: 'PAY-1001',
    trackingNumber: '1Z48W0960312345678',
    deliveredAt: '2026-11-18T15:02:00Z',
  },
  {
    id: 'ORD-1002',
    customerId: 'CUS-1002',
    placedAt: '2026-11-09T18:20:00Z',
    status: 'delivered',
    items: [
      { sku: 'AP-MW-M', name: 'Merino wool sweater, size M', quantity: 1, unitPriceCents: 9500 },
    ],
    totalCents: 9500,
    currency: 'USD',
    paymentId: 'PAY-1002',
    trackingNumber: '1Z48W0960398765432',
    deliveredAt: '2026-11-14T11:47:00Z',
  },
  {
    id: 'ORD-1003',
    customerId: 'CUS-1003',
    placedAt: '2026-11-20T07:55:00Z',
    status: 'in_transit',
    items: [
      { sku: 'AU-NC-700', name: 'Noise-cancelling headphones', quantity: 1, unitPriceCents: 24900 },
    ],
    totalCents: 24900,
    currency: 'USD',
    paymentId: 'PAY-1003',
    trackingNumber: '1Z48W0960355555555',
    deliveredAt: null,
  },
  {
    id: 'ORD-1004',
    customerId: 'CUS-1001',
    placedAt: '2026-11-20T14:05:00Z',
    status: 'payment_failed',
    items: [{ sku: 'KT-GR-01', name: 'Burr coffee grinder', quantity: 1, unitPriceCents: 18900 }],
    totalCents: 18900,
    currency: 'USD',
    paymentId: 'PAY-2001',
    trackingNumber: null,
    deliveredAt: null,
  },
  {
    id: 'ORD-1005',
    customerId: 'CUS-1003',
    placedAt: '2026-11-02T12:30:00Z',
    status: 'delivered',
    items: [{ sku: 'HM-DL-05', name: 'Brass desk lamp', quantity: 1, unitPriceCents: 21900 }],
    totalCents: 21900,
    currency: 'USD',
    paymentId: 'PAY-1005',
    trackingNumber: '1Z48W0960377777777',
    deliveredAt: '2026-11-06T10:15:00Z',
  },
];

export const PAYMENTS: readonly Payment[] = [
  {
    id: 'PAY-1001',
    orderId: 'ORD-1001',
    customerId: 'CUS-1001',
    amountCents: 7250,
    currency: 'USD',
    status: 'captured',
    method: VISA,
    attemptedAt: '2026-11-12T09:41:05Z',
    decline: null,
  },
  {
    id: 'PAY-1002',
    orderId: 'ORD-1002',
    customerId: 'CUS-1002',
    amountCents: 9500,
    currency: 'USD',
    status: 'captured',
    method: MASTERCARD,
    attemptedAt: '2026-11-09T18:20:04Z',
    decline: null,
  },
  {
    id: 'PAY-1003',
    orderId: 'ORD-1003',
    customerId: 'CUS-1003',
    amountCents: 24900,
    currency: 'USD',
    status: 'captured',
    method: AMEX,
    attemptedAt: '2026-11-20T07:55:09Z',
    decline: null,
  },
  {
    id: 'PAY-1005',
    orderId: 'ORD-1005',
    customerId: 'CUS-1003',
    amountCents: 21900,
    currency: 'USD',
    status: 'captured',
    method: AMEX,
    attemptedAt: '2026-11-02T12:30:07Z',
    decline: null,
  },
  {
    id: 'PAY-2001',
    orderId: 'ORD-1004',
    customerId: 'CUS-1001',
    amountCents: 18900,
    currency: 'USD',
    status: 'declined',
    method: VISA,
    attemptedAt: '2026-11-20T14:05:12Z',
    decline: {
      code: 'insufficient_funds',
      issuerMessage: 'The card has insufficient funds to complete the purchase.',
    },
  },
];

export const SHIPMENTS: readonly Shipment[] = [
  {
    trackingNumber: '1Z48W0960312345678',
    carrier: 'UPS',
    orderId: 'ORD-1001',
    status: 'delivered',
    lastScan: { at: '2026-11-18T15:02:00Z', location: 'Lyon, FR', description: 'Delivered' },
    estimatedDelivery: null,
  },
  {
    trackingNumber: '1Z48W0960398765432',
    carrier: 'UPS',
    orderId: 'ORD-1002',
    status: 'delivered',
    lastScan: { at: '2026-11-14T11:47:00Z', location: 'Leeds, GB', description: 'Delivered' },
    estimatedDelivery: null,
  },
  {
    trackingNumber: '1Z48W0960355555555',
    carrier: 'UPS',
    orderId: 'ORD-1003',
    status: 'in_transit',
    lastScan: {
      at: '2026-11-23T06:12:00Z',
      location: 'Louisville, KY, US',
      description: 'Departed UPS Worldport facility',
    },
    estimatedDelivery: '2026-11-26',
  },
  {
    trackingNumber: '1Z48W0960377777777',
    carrier: 'UPS',
    orderId: 'ORD-1005',
    status: 'delivered',
    lastScan: {
      at: '2026-11-06T10:15:00Z',
      location: 'Portland, OR, US',
      description: 'Delivered',
    },
    estimatedDelivery: null,
  },
];

export const ARTICLES: readonly HelpArticle[] = [
  {
    id: 'KB-101',
    title: 'Why was my card declined?',
    url: 'https://help.example.com/articles/card-declined',
    body:
      'A decline comes from the card issuer, not from us. insufficient_funds: the card did not ' +
      'have enough available balance; the customer can pay with another card or retry after ' +
      'topping up. do_not_honor: the issuer gave no reason; the customer should call the number ' +
      'on the back of the card. expired_card: update the card details in Account > Payment.',
  },
  {
    id: 'KB-102',
    title: 'Refunds and returns policy',
    url: 'https://help.example.com/articles/refunds',
    body:
      'Items damaged on arrival or returned unworn within 30 days are refunded in full to the ' +
      'original payment method. Refunds appear on the statement in 5-10 business days.',
  },
  {
    id: 'KB-103',
    title: 'Tracking your parcel',
    url: 'https://help.example.com/articles/tracking',
    body:
      'Tracking numbers start with 1Z and become active within 24 hours of dispatch. If the ' +
      'carrier has no record after 48 hours, check the number on the shipping confirmation.',
  },
  {
    id: 'KB-104',
    title: 'Changing the email address on your account',
    url: 'https://help.example.com/articles/change-email',
    body:
      'Support can change the sign-in email after verifying the account holder. A notice is ' +
      'sent to the previous address so the owner can report a change they did not ask for.',
  },
];
