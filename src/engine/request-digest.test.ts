import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineAgent, type Agent } from '../agent/index.js';
import { TRUSTED_AGENT } from '../core/index.js';
import { conversationCopy, conversationEdited, conversationLog } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { defineTool } from '../tools/index.js';
import { z } from 'zod';
import type { Message, ModelRequest } from '../model/index.js';
import { openStore, type StoredEvent } from '../store/index.js';
import { digestAgents } from './__fixtures__/digest-agents.js';
import { createRuntime, replayRun } from './index.js';
import { requestDigest } from './request-digest.js';

interface RecordedRun {
  readonly runId: string;
  readonly journal: StoredEvent[];
}
const recorded = JSON.parse(
  readFileSync(new URL('./__fixtures__/whole-digest-journals.json', import.meta.url), 'utf8'),
) as Record<string, RecordedRun>;

function recordedRun(name: string): RecordedRun {
  const run = recorded[name];
  if (!run) throw new Error(`no recorded run ${name}`);
  return run;
}

function requestHashes(journal: readonly StoredEvent[]): string[] {
  return journal.flatMap(({ event }) =>
    event.type === 'model_called' && event.requestHash !== undefined ? [event.requestHash] : [],
  );
}

describe('replay of journals whose requestHash digests the whole request', () => {
  const agents = digestAgents();

  it.each([
    ['verbatim', agents.verbatim],
    ['spotlight', agents.spotlight],
  ] as const)('replays the recorded %s run identically', async (_handling, agent) => {
    const { runId, journal } = recordedRun(agent.name);
    expect(requestHashes(journal)).toHaveLength(13);
    expect(requestHashes(journal).every((hash) => /^[0-9a-f]{32}$/.test(hash))).toBe(true);
    const report = await replayRun({ agent, runId, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
    expect(report.comparedEvents).toBeGreaterThan(50);
  });

  it('still shows a changed instruction as a differing requestHash', async () => {
    const { runId, journal } = recordedRun(agents.verbatim.name);
    const changed = defineAgent({
      name: agents.verbatim.name,
      model: agents.verbatim.model,
      instructions: `${agents.verbatim.instructions} Be brief.`,
      tools: agents.verbatim.tools,
      limits: agents.verbatim.limits,
    });
    const report = await replayRun({ agent: changed, runId, journal });
    expect(report.identical).toBe(false);
    expect(report.divergence).toMatchObject({ step: 0, fields: ['requestHash'] });
  });
});

describe('chained request digests', () => {
  const agents = digestAgents();

  async function recordNew(agent: Agent): Promise<RecordedRun> {
    const store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const result = await runtime.run(agent.name, 'Read them all.');
      expect(result.status).toBe('succeeded');
      return { runId: result.id, journal: await store.readEvents(result.id) };
    } finally {
      await runtime.close();
      await store.close();
    }
  }

  it.each([
    ['verbatim', agents.verbatim],
    ['spotlight', agents.spotlight],
  ] as const)('a new %s run carries chained digests and replays identically', async (_, agent) => {
    const { runId, journal } = await recordNew(agent);
    const hashes = requestHashes(journal);
    expect(hashes).toHaveLength(13);
    expect(hashes.every((hash) => /^v2:[0-9a-f]{32}$/.test(hash))).toBe(true);
    expect(new Set(hashes).size).toBe(13);
    const report = await replayRun({ agent, runId, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
  });

  it('a changed instruction diverges at the first step of a chained journal', async () => {
    const { runId, journal } = await recordNew(agents.spotlight);
    const changed = defineAgent({
      name: agents.spotlight.name,
      model: agents.spotlight.model,
      instructions: `${agents.spotlight.instructions} Be brief.`,
      tools: agents.spotlight.tools,
      limits: agents.spotlight.limits,
      untrusted: { handling: 'spotlight', detector: false },
    });
    const report = await replayRun({ agent: changed, runId, journal });
    expect(report.divergence).toMatchObject({ step: 0, fields: ['requestHash'] });
  });

  const text = (value: string, trust: 'trusted' | 'untrusted' = 'trusted'): Message => ({
    role: trust === 'trusted' ? 'user' : 'tool',
    parts:
      trust === 'trusted'
        ? [{ type: 'text', text: value, provenance: TRUSTED_AGENT }]
        : [
            {
              type: 'tool_result',
              callId: 'c1',
              toolName: 'fetch_page',
              content: value,
              isError: false,
              provenance: { trust: 'untrusted', source: 'tool:fetch_page' },
            },
          ],
  });
  const conversation = (count: number): Message[] =>
    Array.from({ length: count }, (_, index) =>
      text(`message ${index}`, index % 3 === 2 ? 'untrusted' : 'trusted'),
    );
  const requestOf = (messages: readonly Message[], system = 'sys'): ModelRequest => ({
    system,
    messages,
    tools: [],
  });
  const fresh = (messages: readonly Message[]): Message[] =>
    messages.map((message) => structuredClone(message));

  it.each([
    ['verbatim', agents.verbatim],
    ['spotlight', agents.spotlight],
  ] as const)(
    '%s: a digest carried forward equals the digest of the same request taken afresh',
    (_, agent) => {
      const messages = conversation(30);
      // Grow one conversation step by step, as a run does, then compare with new objects.
      let carried = '';
      for (let length = 1; length <= messages.length; length++)
        carried = requestDigest(agent, requestOf(messages.slice(0, length)));
      expect(carried).toBe(requestDigest(agent, requestOf(fresh(messages))));
    },
  );

  it('a request that departs from the last one is digested from where it departs', () => {
    const agent = agents.spotlight;
    const messages = conversation(20);
    const before = requestDigest(agent, requestOf(messages));
    const edited = [...messages];
    edited[5] = text('message 5, edited');
    const after = requestDigest(agent, requestOf(edited));
    expect(after).not.toBe(before);
    expect(after).toBe(requestDigest(agent, requestOf(fresh(edited))));
    // Back to the original: the same digest as the first time.
    expect(requestDigest(agent, requestOf(messages))).toBe(before);
    // Dropping a message, or changing the system prompt, changes it too.
    expect(requestDigest(agent, requestOf(messages.slice(0, 19)))).not.toBe(before);
    expect(requestDigest(agent, requestOf(messages, 'other'))).not.toBe(before);
  });

  it.each([
    ['verbatim', agents.verbatim],
    ['spotlight', agents.spotlight],
  ] as const)(
    '%s: over copies of a run log (found without comparing), equal to the digest taken afresh, an edit in place included',
    (_, agent) => {
      const all = conversation(40);
      const log = conversationLog([]);
      for (const [index, message] of all.entries()) {
        log.push(message);
        // A quarantined result's view replaces a message in place, as the run state does.
        if (index === 25) {
          conversationEdited(log);
          log[4] = text('message 4, replaced', 'untrusted');
        }
        const copy = conversationCopy(log);
        expect(requestDigest(agent, requestOf(copy))).toBe(
          requestDigest(agent, requestOf(fresh(copy))),
        );
      }
    },
  );

  it('spotlighting shows in the digest, the run-specific markers do not', () => {
    const messages = conversation(10);
    expect(requestDigest(agents.spotlight, requestOf(messages))).not.toBe(
      requestDigest(agents.verbatim, requestOf(messages)),
    );
    const trusted = messages.filter((message) => message.role === 'user');
    expect(requestDigest(agents.spotlight, requestOf(trusted))).toBe(
      requestDigest(agents.verbatim, requestOf(trusted)),
    );
  });
});

describe('requestDigest of a known request', () => {
  it('stays the digest chained journals recorded (tool specs are digested once, same result)', () => {
    const lookup = defineTool({
      name: 'lookup',
      description: 'Look up an order.',
      input: z.object({ id: z.string(), verbose: z.boolean().optional() }),
      effect: 'read',
      run: () => Promise.resolve('x'),
    });
    const agent = defineAgent({
      name: 'pinned',
      instructions: 'Answer "briefly".',
      model: simulator({ script: [{ text: 'ok' }] }),
      tools: [lookup],
    });
    const request: ModelRequest = {
      system: 'Answer "briefly".',
      tools: [lookup.spec],
      maxOutputTokens: 300,
      temperature: undefined,
      messages: [
        {
          role: 'user',
          parts: [{ type: 'text', text: 'Where is A1?', provenance: TRUSTED_AGENT }],
        },
      ],
    };
    // Computed before tool specs were cached: the digest must not change with the cache.
    const pinned = 'v2:86ad44e0d737a56446b0fd07c1654620';
    expect(requestDigest(agent, request)).toBe(pinned);
    expect(requestDigest(agent, request)).toBe(pinned);
    // A spec that is not frozen is digested afresh each time.
    const open: { -readonly [K in keyof typeof lookup.spec]: (typeof lookup.spec)[K] } = {
      ...lookup.spec,
    };
    expect(requestDigest(agent, { ...request, tools: [open] })).toBe(pinned);
    open.description = 'Look up an order by id.';
    expect(requestDigest(agent, { ...request, tools: [open] })).not.toBe(pinned);
  });
});
