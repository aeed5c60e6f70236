import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import type { RunEvent } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, type ToolCallInterceptor } from './index.js';

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** An agent that refunds once and answers with what the tool said; `ran` counts executions. */
async function refundRun(interceptToolCall?: ToolCallInterceptor) {
  const ran: unknown[] = [];
  const refund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string() }),
    effect: 'irreversible',
    untrustedOutput: true,
    run(input) {
      ran.push(input);
      return Promise.resolve({ refundId: 'RF-LIVE' });
    },
  });
  const agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund orders.',
    tools: [refund],
    model: simulator({
      script: ({ lastToolResults }) =>
        lastToolResults.length === 0
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1' } }] }
          : { text: `tool said ${lastToolResults[0]?.content ?? ''}` },
    }),
  });
  store = await openStore('sqlite::memory:');
  const runtime = createRuntime({ store, agents: [agent], interceptToolCall });
  try {
    const result = await runtime.run('refunds', 'Refund ORD-1');
    const events = (await store.readEvents(result.id)).map((entry) => entry.event);
    return { result, events, ran };
  } finally {
    await runtime.close();
  }
}

function ofType<T extends RunEvent['type']>(events: readonly RunEvent[], type: T) {
  return events.filter((event): event is Extract<RunEvent, { type: T }> => event.type === type);
}

describe('interceptToolCall', () => {
  it('runs every call when no interceptor is set', async () => {
    const { result, events, ran } = await refundRun();
    expect(ran).toEqual([{ orderId: 'ORD-1' }]);
    expect(ofType(events, 'tool_intercepted')).toEqual([]);
    expect(result.output).toBe('tool said {"refundId":"RF-LIVE"}');
  });

  it('runs the call when the interceptor says execute', async () => {
    const { ran } = await refundRun(() => ({ type: 'execute' }));
    expect(ran).toHaveLength(1);
  });

  it('serves a result without running the tool, journaled with its source', async () => {
    const calls: unknown[] = [];
    const { result, events, ran } = await refundRun((call) => {
      calls.push(call);
      return {
        type: 'serve',
        source: 'fixture',
        result: { ok: true, value: { refundId: 'RF-9' } },
      };
    });
    expect(ran).toEqual([]);
    expect(calls).toEqual([
      expect.objectContaining({
        agent: 'refunds',
        step: 0,
        toolName: 'issue_refund',
        effect: 'irreversible',
        input: { orderId: 'ORD-1' },
      }),
    ]);
    expect(ofType(events, 'tool_intercepted')).toEqual([
      expect.objectContaining({ action: 'served', detail: 'fixture', input: { orderId: 'ORD-1' } }),
    ]);
    // A served result is labelled like the tool's own: untrusted content stays untrusted.
    expect(ofType(events, 'tool_finished')[0]?.provenance.trust).toBe('untrusted');
    expect(result.output).toBe('tool said {"refundId":"RF-9"}');
  });

  it('suppresses a call and gives the model the typed failure it names', async () => {
    const { result, events, ran } = await refundRun(() => ({
      type: 'suppress',
      reason: 'no fixture for an irreversible tool',
      result: { ok: false, error: { type: 'forbidden', message: 'not run here' } },
    }));
    expect(ran).toEqual([]);
    expect(ofType(events, 'tool_intercepted')).toEqual([
      expect.objectContaining({
        action: 'suppressed',
        detail: 'no fixture for an irreversible tool',
      }),
    ]);
    expect(ofType(events, 'tool_failed')).toEqual([
      expect.objectContaining({
        error: { type: 'forbidden', message: 'not run here' },
        final: true,
      }),
    ]);
    expect(result.status).toBe('succeeded');
    expect(result.output).toContain('forbidden');
  });
});
