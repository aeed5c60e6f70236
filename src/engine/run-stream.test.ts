import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator, type SimulatorScript } from '../model/index.js';
import { defineTool } from '../tools/index.js';
import { storeTargets } from '../../test/support/store-targets.js';
import { gatedModel } from './__tests__/gated-model.js';
import { textsFromDeltas } from './__tests__/stream-text.js';
import { StreamHub } from './run-stream.js';
import {
  createRuntime,
  isJournaledStreamEvent,
  type RunStreamEvent,
  type Runtime,
} from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Look up an order',
  input: z.object({ orderId: z.string() }),
  effect: 'read',
  run: ({ orderId }) => Promise.resolve({ orderId, status: 'shipped' }),
});

const refund = defineTool({
  name: 'issue_refund',
  description: 'Refund an order',
  input: z.object({ orderId: z.string() }),
  effect: 'irreversible',
  idempotent: true,
  run: ({ orderId }) => Promise.resolve({ refunded: orderId }),
});

const SCRIPT: SimulatorScript = [
  { text: 'Let me look that up.', toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
  { text: 'Order A-1 shipped on Tuesday and arrives on Friday.' },
];

async function collect(events: AsyncIterable<RunStreamEvent>): Promise<RunStreamEvent[]> {
  const seen: RunStreamEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

for (const target of storeTargets('keel_rs_')) {
  describe(`runtime.stream (${target.name})`, () => {
    async function setup(
      model = simulator({ script: SCRIPT, streamChunkChars: 7 }),
      extra: Partial<Parameters<typeof defineAgent>[0]> = {},
    ): Promise<Runtime> {
      const { store, dispose } = await target.open();
      const agent = defineAgent({
        name: 'support',
        instructions: 'Answer about orders.',
        model,
        tools: [lookup, refund],
        ...extra,
      });
      const runtime = createRuntime({ store, agents: [agent] });
      cleanups.push(async () => {
        await runtime.close();
        await dispose();
      });
      return runtime;
    }

    it('streams text as it arrives, tool calls and results, and the result run() returns', async () => {
      const runtime = await setup();
      const stream = runtime.stream('support', 'Where is order A-1?');
      const events = await collect(stream);
      const finished = events.at(-1);
      const result = await runtime.wait(stream.runId);
      expect(events.map((event) => event.type)).toEqual([
        'run_started',
        'step_started',
        'text_delta',
        'text_delta',
        'text_delta',
        'text_completed',
        'tool_call',
        'tool_result',
        'step_started',
        ...Array.from({ length: 8 }, () => 'text_delta' as const),
        'text_completed',
        'run_finished',
      ]);
      expect(finished).toMatchObject({ type: 'run_finished', result });
      expect(result.status).toBe('succeeded');
      const texts = textsFromDeltas(events);
      expect([...texts.values()].map((entry) => entry.text)).toEqual([
        'Let me look that up.',
        'Order A-1 shipped on Tuesday and arrives on Friday.',
      ]);
      expect(events.find((event) => event.type === 'tool_result')).toMatchObject({
        outcome: 'ok',
        toolName: 'lookup_order',
        provenance: { source: 'tool:lookup_order' },
      });
      // Journaled events carry their journal position; live ones the position they follow.
      const journal = await runtime.store.readEvents(stream.runId);
      const seqs = events.filter(isJournaledStreamEvent).map((event) => event.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const event of events.filter(isJournaledStreamEvent)) {
        expect(journal.some((entry) => entry.seq === event.seq)).toBe(true);
      }
      const seqOrder = events.map((event) => event.seq);
      expect(seqOrder).toEqual([...seqOrder].sort((left, right) => left - right));
    });

    it('follows a run by id from a sequence number: the journaled events after it, once', async () => {
      const runtime = await setup();
      const result = await runtime.run('support', 'Where is order A-1?');
      const all = await collect(runtime.stream(result.id));
      const cut = all.filter(isJournaledStreamEvent)[2];
      if (!cut) throw new Error('too few events');
      const rest = await collect(runtime.stream(result.id, { afterSeq: cut.seq }));
      expect(rest.filter(isJournaledStreamEvent)).toEqual(
        all.filter(isJournaledStreamEvent).filter((event) => event.seq > cut.seq),
      );
      // A finished run has no live text: its replies come as journaled text.
      expect(all.some((event) => event.type === 'text_delta')).toBe(false);
      expect(all.at(-1)).toMatchObject({ type: 'run_finished', result });
    });

    it('gives a subscriber that joins mid-reply the text so far as one catch-up delta', async () => {
      const model = gatedModel([{ text: 'abcdefghij' }], 2);
      const runtime = await setup(model);
      const first = runtime.stream('support', 'Where is order A-1?');
      const iterator = first[Symbol.asyncIterator]();
      const seen: RunStreamEvent[] = [];
      let deltas = 0;
      while (deltas < 4) {
        const next = await iterator.next();
        if (next.done) throw new Error('ended early');
        seen.push(next.value);
        if (next.value.type === 'text_delta') {
          deltas += 1;
          // Three pieces released; the fourth is out and held.
          if (deltas < 4) model.release();
        }
      }
      const late = runtime.stream(first.runId);
      const lateIterator = late[Symbol.asyncIterator]();
      const lateSeen: RunStreamEvent[] = [];
      while (!lateSeen.some((event) => event.type === 'text_delta')) {
        const next = await lateIterator.next();
        if (next.done) throw new Error('ended early');
        lateSeen.push(next.value);
      }
      expect(lateSeen.at(-1)).toMatchObject({
        type: 'text_delta',
        text: 'abcdefgh',
        catchUp: true,
      });
      for (let index = 0; index < 5; index++) model.release();
      const restLate: RunStreamEvent[] = [];
      for (let next = await lateIterator.next(); !next.done; next = await lateIterator.next())
        restLate.push(next.value);
      const restFirst: RunStreamEvent[] = [];
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        restFirst.push(next.value);
      expect(textsFromDeltas([...lateSeen, ...restLate]).get(0)?.text).toBe('abcdefghij');
      expect(textsFromDeltas([...seen, ...restFirst]).get(0)?.text).toBe('abcdefghij');
    });

    it('never slows the run for a consumer that does not read: deltas coalesce, journaled events all arrive', async () => {
      const runtime = await setup(simulator({ script: SCRIPT, streamChunkChars: 1 }));
      const stream = runtime.stream('support', 'Where is order A-1?', { maxBufferedDeltas: 4 });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      // The run finishes while the consumer reads nothing more.
      const result = await runtime.wait(stream.runId, { pollMs: 10 });
      const events: RunStreamEvent[] = first.done ? [] : [first.value];
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        events.push(next.value);
      const journaled = events.filter(isJournaledStreamEvent);
      const again = await collect(runtime.stream(stream.runId));
      expect(journaled).toEqual(again.filter(isJournaledStreamEvent));
      expect(events.filter((event) => event.type === 'text_delta').length).toBeLessThanOrEqual(4);
      expect(events.at(-1)).toMatchObject({ type: 'run_finished', result });
    });

    it('cancels the run when the signal aborts, or only ends the subscription when asked', async () => {
      const model = gatedModel([{ text: 'abcdef' }], 2);
      const runtime = await setup(model);
      const controller = new AbortController();
      const cancelled = runtime.stream('support', 'Where is order A-1?', {
        signal: controller.signal,
      });
      const events: RunStreamEvent[] = [];
      for await (const event of cancelled) {
        events.push(event);
        if (event.type === 'text_delta') controller.abort();
      }
      expect(events.at(-1)).toMatchObject({
        type: 'run_finished',
        result: { status: 'cancelled' },
      });

      const other = gatedModel([{ text: 'abcdef' }], 2);
      const runtime2 = await setup(other);
      const stop = new AbortController();
      const watched = runtime2.stream('support', 'Where is order A-1?', {
        signal: stop.signal,
        abort: 'subscription',
      });
      const partial: RunStreamEvent[] = [];
      for await (const event of watched) {
        partial.push(event);
        if (event.type === 'text_delta') stop.abort();
      }
      expect(partial.some((event) => event.type === 'run_finished')).toBe(false);
      for (let index = 0; index < 3; index++) other.release();
      const result = await runtime2.wait(watched.runId, { pollMs: 10 });
      expect(result).toMatchObject({ status: 'succeeded', output: 'abcdef' });
    });

    it("cancels a followed run with abort: 'run', and only stops following by default", async () => {
      const model = gatedModel([{ text: 'abcdef' }], 2);
      const runtime = await setup(model);
      const running = runtime.run('support', 'Where is order A-1?', { runId: 'run_followed' });
      while (!(await runtime.store.getRun('run_followed')))
        await new Promise((resolve) => setImmediate(resolve));
      const watching = new AbortController();
      for await (const event of runtime.stream('run_followed', { signal: watching.signal })) {
        if (event.type === 'text_delta') watching.abort();
      }
      expect((await runtime.store.getRun('run_followed'))?.status).toBe('running');
      const cancelling = new AbortController();
      const events: RunStreamEvent[] = [];
      for await (const event of runtime.stream('run_followed', {
        signal: cancelling.signal,
        abort: 'run',
      })) {
        events.push(event);
        if (event.type === 'text_delta') cancelling.abort();
      }
      expect(events.at(-1)).toMatchObject({
        type: 'run_finished',
        result: { status: 'cancelled' },
      });
      expect((await running).status).toBe('cancelled');
    });

    it('streams an approval with its group and the call it binds, then the decision', async () => {
      const runtime = await setup(
        simulator({
          script: [
            { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] },
            { text: 'Refunded.' },
          ],
        }),
        { gates: { tools: { issue_refund: { approverGroup: 'finance' } } } },
      );
      const { token } = await runtime.approvals.addApprover({ name: 'ana', groups: ['finance'] });
      const stream = runtime.stream('support', 'Refund A-1');
      const events: RunStreamEvent[] = [];
      for await (const event of stream) {
        events.push(event);
        if (event.type === 'approval_requested') {
          await runtime.approvals.decide({
            token,
            id: event.approvalId,
            decision: 'approve',
            argsHash: event.bound.argsHash,
          });
        }
      }
      const requested = events.find((event) => event.type === 'approval_requested');
      expect(requested).toMatchObject({
        group: 'finance',
        bound: { toolName: 'issue_refund', input: { orderId: 'A-1' } },
      });
      expect(events.find((event) => event.type === 'approval_decided')).toMatchObject({
        decision: 'approved',
        decidedBy: 'ana',
      });
      expect(events.at(-1)).toMatchObject({
        type: 'run_finished',
        result: { status: 'succeeded', output: 'Refunded.' },
      });
    });

    it('refuses an unknown agent at once and an unknown run when read', async () => {
      const runtime = await setup();
      expect(() => runtime.stream('nobody', 'task')).toThrow(/unknown agent "nobody"/);
      expect(() => runtime.stream('support', '  ')).toThrow(/non-empty task/);
      const error = await collect(runtime.stream('no-such-run')).catch((caught: unknown) => caught);
      expect(KeelError.isInstance(error) && error.code).toBe('not_found');
    });
  });
}

describe('StreamHub', () => {
  it('keeps nothing for a run nobody follows once its reply is over', () => {
    const hub = new StreamHub();
    hub.delta('run_a', { step: 0, attempt: 1, afterSeq: 2, text: 'Look' });
    hub.delta('run_b', { step: 0, attempt: 1, afterSeq: 2, text: 'Chec' });
    expect(hub.size).toBe(2);
    hub.committed('run_a', { type: 'run_released', workerId: 'w1' });
    hub.committed('run_b', { type: 'run_suspended', workerId: 'w1', approvalIds: [], at: 0 });
    expect(hub.size).toBe(0);
  });
});
