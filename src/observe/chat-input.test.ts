import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator, type ModelRequest } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { recording } from '../../test/support/archive.js';
import {
  ATTR,
  chatInput,
  spanIdOf,
  traceExport,
  type SpanExporter,
  type TraceSpan,
} from './index.js';

/*
 * With content capture on, each chat span carries what its own call was sent, after context
 * assembly: the step's request as the model received it, and a summariser call's request.
 */

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

/** An exporter that keeps what it is handed (the queue and the wire are tested elsewhere). */
function keeping(): SpanExporter & { readonly spans: TraceSpan[] } {
  const spans: TraceSpan[] = [];
  return {
    spans,
    export: (batch) => {
      spans.push(...batch);
    },
    flush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
    stats: () => ({ exported: spans.length, dropped: 0, failed: 0, queued: 0 }),
  };
}

const page = (n: number): string =>
  `Page ${n}. ` +
  Array.from({ length: 240 }, (_, at) => `line ${n}-${at} of the ledger`).join('; ');

describe('chat spans with content capture', () => {
  it("carry each call's own input messages, as assembled, and the summariser's", async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    const readPage = defineTool({
      name: 'read_page',
      description: 'Read a page.',
      input: z.object({ n: z.number().int() }),
      effect: 'read',
      run: ({ n }) => Promise.resolve(page(n)),
    });
    const agent = recording(
      simulator({
        script: ({ lastToolResults }) => {
          const last = /^Page (\d+)\./.exec(lastToolResults.at(-1)?.content ?? '');
          const n = last ? Number(last[1]) : 0;
          return n < 8
            ? { toolCalls: [{ name: 'read_page', args: { n: n + 1 } }] }
            : { text: 'Read 8 pages.' };
        },
      }),
    );
    const summariser = recording(simulator({ script: () => ({ text: 'A ledger page.' }) }));
    const exporter = keeping();
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'reader',
          model: agent.model,
          instructions: 'You read ledgers.',
          tools: [readPage],
          maxOutputTokens: 512,
          context: { windowTokens: 8_000, windowSteps: 2, summariserModel: summariser.model },
        }),
      ],
      observers: [traceExport({ exporter, spans: { captureContent: true } })],
    });
    const result = await runtime.run('reader', 'Read the ledger, page by page.');
    await runtime.close();
    expect(result.status).toBe('succeeded');

    const chats = exporter.spans
      .filter((span) => span.attributes[ATTR.operationName] === 'chat')
      .filter((span) => span.attributes[ATTR.contextSummarisedStep] === undefined);
    expect(chats.map((span) => span.spanId)).toEqual(
      agent.requests.map((_, step) => spanIdOf(result.id, `chat:${step}`)),
    );
    // Every call saw a different, assembled request; its span says exactly which.
    chats.forEach((span, step) => {
      const sent = chatInput(agent.requests[step] as ModelRequest, 8192);
      expect([
        span.attributes[ATTR.inputMessages],
        span.attributes[ATTR.systemInstructions],
      ]).toEqual([sent.messages, sent.system]);
    });
    // Late calls were sent the assembled context: the summariser's summaries, not every page.
    const lastInput = String(chats.at(-1)?.attributes[ATTR.inputMessages]);
    expect(lastInput).toContain('A ledger page.');
    expect(lastInput).not.toContain('Page 1. line 1-0');

    const summaries = exporter.spans.filter(
      (span) => span.attributes[ATTR.contextSummarisedStep] !== undefined,
    );
    expect(summaries.length).toBe(summariser.requests.length);
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries.map((span) => span.attributes[ATTR.inputMessages]).sort()).toEqual(
      summariser.requests.map((request) => chatInput(request, 8192).messages).sort(),
    );
  });

  it('carry no input without content capture', async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    const exporter = keeping();
    const observer = traceExport({ exporter });
    expect(observer.onModelRequest).toBeUndefined();
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'plain',
          model: simulator({ script: [{ text: 'done' }] }),
          instructions: 'Answer.',
        }),
      ],
      observers: [observer],
    });
    await runtime.run('plain', 'Say done.');
    await runtime.close();
    expect(exporter.spans.some((span) => ATTR.inputMessages in span.attributes)).toBe(false);
  });
});

describe('chatInput', () => {
  it('writes GenAI input messages as canonical JSON, truncated like other content', () => {
    const request = {
      system: 'Be brief.',
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'Refund A-1', provenance: {} }] },
        {
          role: 'assistant',
          parts: [{ type: 'tool_call', callId: 'c1', toolName: 'lookup', arguments: '{}' }],
        },
        {
          role: 'tool',
          parts: [
            { type: 'tool_result', callId: 'c1', toolName: 'lookup', content: 'x'.repeat(50) },
          ],
        },
      ],
    };
    const full = JSON.stringify([
      { parts: [{ content: 'Refund A-1', type: 'text' }], role: 'user' },
      {
        parts: [{ arguments: '{}', id: 'c1', name: 'lookup', type: 'tool_call' }],
        role: 'assistant',
      },
      { parts: [{ id: 'c1', response: 'x'.repeat(50), type: 'tool_call_response' }], role: 'tool' },
    ]);
    expect(chatInput(request, 10_000)).toEqual({
      messages: full,
      system: JSON.stringify([{ content: 'Be brief.', type: 'text' }]),
    });
    expect(chatInput(request, 100).messages).toBe(`${full.slice(0, 100)}…`);
  });
});

describe('exported spans', () => {
  it("carry a run's secrets redacted: secret fields, the values they held, redactors, card numbers", async () => {
    const store = await openStore('sqlite::memory:');
    opened.push(store);
    const TOKEN = 'tok_live_7Qx92';
    const CARD = '4111 1111 1111 1111';
    const ACCOUNT = 'ACCT-004211';
    const exporter = keeping();
    const runtime = createRuntime({
      store,
      agents: [
        defineAgent({
          name: 'billing',
          instructions: 'Charge.',
          model: simulator({
            script: ({ step, lastToolResults }) =>
              step === 0
                ? { toolCalls: [{ name: 'charge', args: { token: TOKEN, note: `card ${CARD}` } }] }
                : { text: `charged ${TOKEN} on ${ACCOUNT}: ${lastToolResults[0]?.content ?? ''}` },
          }),
          tools: [
            defineTool({
              name: 'charge',
              description: 'Charge a saved card',
              input: z.object({ token: z.string(), note: z.string() }),
              effect: 'read',
              secretFields: { input: ['token'], output: ['receipt'] },
              run: () => Promise.resolve({ receipt: 'rcpt_99812' }),
            }),
          ],
        }),
      ],
      redact: [{ name: 'account', pattern: /\bACCT-\d{6}\b/ }],
      observers: [traceExport({ exporter, spans: { captureContent: true } })],
    });
    const run = await runtime.run('billing', `charge ${ACCOUNT}`);
    await runtime.close();
    expect(run.status).toBe('succeeded');
    const exported = JSON.stringify(exporter.spans);
    expect(exporter.spans.length).toBeGreaterThan(2);
    for (const secret of [TOKEN, CARD, ACCOUNT, 'rcpt_99812'])
      expect(exported).not.toContain(secret);
    expect(exported).toContain('[redacted:account]');
  });
});
