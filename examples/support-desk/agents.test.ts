import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, openStore, type Runtime, type Store } from '../../src/index.js';
import { DEMO_TASKS, createSupportDeskAgents } from './agents.js';
import { SupportBackend } from './backend.js';

let store: Store | undefined;
let runtime: Runtime | undefined;

afterEach(async () => {
  await runtime?.close();
  await store?.close();
  runtime = undefined;
  store = undefined;
});

async function setUp(): Promise<{ runtime: Runtime; backend: SupportBackend }> {
  const backend = new SupportBackend({ latencyMs: { refunds: 0, email: 0 } });
  store = await openStore('sqlite::memory:');
  runtime = createRuntime({ store, agents: createSupportDeskAgents(backend) });
  return { runtime, backend };
}

describe('supportDeskAgents', () => {
  it('changes an email and notifies the previous address when asked by the account owner', async () => {
    const { runtime, backend } = await setUp();
    const result = await runtime.run('account', DEMO_TASKS.emailChange);
    expect(result.status).toBe('succeeded');
    expect(result.output).toContain('from bob@example.com to bob.okafor@example.net');
    expect(backend.sentEmails().map((email) => email.to)).toEqual(['bob@example.com']);
  });

  it('tracks a parcel through its order when the task gives an order id', async () => {
    const { runtime } = await setUp();
    const result = await runtime.run('general', 'Where is my order ORD-1003?');
    expect(result.status).toBe('succeeded');
    expect(result.output).toContain('is in transit');
    expect(result.output).toContain('Expected delivery: 2026-11-26');
  });

  it('refunds nothing when the order belongs to another customer', async () => {
    const { runtime, backend } = await setUp();
    const result = await runtime.run(
      'refunds',
      'Customer bob@example.com wants a refund for order ORD-1001 (changed my mind)',
    );
    expect(result.status).toBe('succeeded');
    expect(result.output).toContain('does not belong to bob@example.com');
    expect(backend.refunds()).toEqual([]);
  });

  it('answers with the failure when the payments gateway stays down', async () => {
    const { runtime, backend } = await setUp();
    backend.failNext('payments', { times: 5 });
    const result = await runtime.run('payments', DEMO_TASKS.declinedPayment);
    expect(result.status).toBe('succeeded');
    expect(result.output).toContain('could not reach the payments gateway');
  });

  it('refunds once when the same idempotency key is issued twice', async () => {
    const backend = new SupportBackend({ latencyMs: { refunds: 0 } });
    const request = {
      orderId: 'ORD-1002',
      amountCents: 9500,
      reason: 'wrong size',
      idempotencyKey: 'run_1:2:0',
    };
    const first = await backend.issueRefund(request);
    const second = await backend.issueRefund(request);
    expect(second).toEqual({ ...first, replayed: true });
    expect(backend.refunds()).toHaveLength(1);
  });
});
