import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import { createRuntime, type Runtime } from '../engine/index.js';
import { simulator, type ScriptContext, type SimulatedTurn } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { storeLocations } from '../store/__tests__/store-locations.js';
import { defineTool } from '../tools/index.js';
import { rankByRelevance, recallTool, termsOf } from './index.js';

/*
 * Recall of short identifiers: near-identical stored results that differ only in a short id
 * (box 3, PR 12, A7, v2, #3), found by the id on SQLite (file, memory) and PostgreSQL, both
 * through the `recall` tool and through the store recall the engine runs before each step.
 */

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = [
  { name: 'sqlite file', url: () => locations.sqliteFile() },
  { name: 'sqlite memory', url: () => 'sqlite::memory:' },
  { name: 'postgres', url: () => locations.postgres('keel_recall') },
];

const BOXES = 40;
const codeOf = (box: number): string => String(40_000 + ((box * 7919) % 9_973));

/** A large locker record (stored for recall): the same lines for every box but its id and code. */
function lockerRecord(box: number): string {
  const lines = [`Locker record for box ${box}. The code for box ${box} is ${codeOf(box)}.`];
  for (let line = 1; line <= 40; line++) {
    lines.push(`Inventory line ${line}: gloves, tape, labels and one torch, checked and sealed.`);
  }
  return lines.join('\n');
}

const opened: { store?: Store; runtime?: Runtime }[] = [];
afterEach(async () => {
  for (const { runtime, store } of opened.splice(0).reverse()) {
    await runtime?.close();
    await store?.close();
  }
});

describe('termsOf', () => {
  it('keeps short identifiers, and each with the word labelling it', () => {
    expect([...termsOf('What is the code for box 3?')]).toEqual(['code', 'box', '3', 'box 3']);
    expect([...termsOf('Who merged PR #12, PR-13 and v2 in room A7?')]).toEqual([
      'merged',
      'pr',
      '12',
      'pr 12',
      '13',
      'pr 13',
      'v2',
      'room',
      'a7',
      'room a7',
    ]);
    // Common words never label: "is 7431" is no phrase, and "is" no term.
    expect([...termsOf('The Zephyr vault code is 7431')]).toEqual([
      'zephyr',
      'vault',
      'code',
      '7431',
    ]);
  });
});

describe('rankByRelevance', () => {
  it('puts the record a short identifier names first, not the latest of its kind', () => {
    const candidates = Array.from({ length: BOXES }, (_, at) => {
      const text = lockerRecord(at + 1);
      return { item: at + 1, terms: termsOf(text) };
    });
    expect(rankByRelevance(termsOf('What is the code for box 3?'), candidates)[0]).toBe(3);
  });
});

describe.each(BACKENDS)('recall of short identifiers on $name', (backend) => {
  async function storeWithBoxes(): Promise<Store> {
    const store = await openStore(backend.url());
    opened.push({ store });
    await store.results.put(
      Array.from({ length: BOXES }, (_, at) => ({
        runId: 'run-boxes',
        ref: `result:${at}:call_${at}_0`,
        step: at,
        callId: `call_${at}_0`,
        toolName: 'read_locker',
        content: lockerRecord(at + 1),
        trust: 'untrusted' as const,
        source: 'tool:read_locker',
        createdAt: at,
      })),
    );
    return store;
  }

  it('the recall tool returns the record of box 3 first', async () => {
    const store = await storeWithBoxes();
    const output = (await recallTool(store.results).run(
      { query: 'what is the code for box 3?', limit: 3 },
      {
        signal: new AbortController().signal,
        idempotencyKey: 'run-boxes:40:0',
        runId: 'run-boxes',
        callId: 'call_40_0',
        attempt: 1,
        markPartial: () => undefined,
      },
    )) as { results: { ref: string; step: number; content: string }[] };
    expect(output.results[0]).toMatchObject({ ref: 'result:2:call_2_0', step: 2 });
    expect(output.results[0]?.content).toContain(`The code for box 3 is ${codeOf(3)}.`);
  });

  it("the engine's store recall brings back box 3's record long after it left the window", async () => {
    const store = await openStore(backend.url());
    const readLocker = defineTool({
      name: 'read_locker',
      description: 'Read the record of one locker box.',
      input: z.object({ box: z.number().int() }),
      effect: 'read',
      untrustedOutput: true,
      run: ({ box }) => Promise.resolve(lockerRecord(box)),
    });
    let answered: string | undefined;
    const script = (context: ScriptContext): SimulatedTurn => {
      const last = /Locker record for box (\d+)\./.exec(
        context.lastToolResults.at(-1)?.content ?? '',
      );
      const box = last ? Number(last[1]) : 0;
      if (box < BOXES) return { toolCalls: [{ name: 'read_locker', args: { box: box + 1 } }] };
      const sent = context.request.messages
        .flatMap((message) => message.parts)
        .map((part) => (part.type === 'text' ? part.text : ''))
        .join('\n');
      answered = sent.includes(`The code for box 3 is ${codeOf(3)}.`) ? codeOf(3) : 'unknown';
      return { text: answered };
    };
    const agent = defineAgent({
      name: 'locksmith',
      model: simulator({ script }),
      instructions: 'You read locker records.',
      tools: [readLocker],
      limits: { maxIterations: 60 },
      context: { windowTokens: 16_000, windowSteps: 10 },
    });
    const runtime = createRuntime({ store, agents: [agent] });
    opened.push({ store, runtime });
    const result = await runtime.run(
      'locksmith',
      `Read the ${BOXES} locker records one by one, then say the code for box 3.`,
    );
    const assembled = (await store.readEvents(result.id))
      .map((entry) => entry.event)
      .filter(
        (event): event is Extract<RunEvent, { type: 'context_assembled' }> =>
          event.type === 'context_assembled',
      );
    const last = assembled.at(-1);
    expect({
      status: result.status,
      answered,
      firstRecalled: last?.recalled[0],
      source: last?.recallSource,
    }).toEqual({
      status: 'succeeded',
      answered: codeOf(3),
      firstRecalled: 'result:2:call_2_0',
      source: 'store',
    });
  });
});
