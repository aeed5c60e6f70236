import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../core/index.js';
import { foldRun } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { defineTool, type ToolEffect } from '../tools/index.js';
import { defineAgent, type AgentDefinition } from './index.js';

function lookup(effect: ToolEffect = 'read', version = '1') {
  return defineTool({
    name: 'lookup_order',
    description: 'Look an order up',
    input: z.object({ orderId: z.string() }),
    effect,
    version,
    run: () => Promise.resolve({ ok: true }),
  });
}

function agent(changes: Partial<AgentDefinition> = {}) {
  return defineAgent({
    name: 'desk',
    model: simulator({ script: [{ text: 'ok' }] }),
    instructions: 'You help customers.',
    tools: [lookup()],
    ...changes,
  });
}

describe('agent versions', () => {
  it('keeps an explicit version, through modifiers too', () => {
    const desk = agent({ version: '2026-12-06.1' });
    expect(desk.version).toBe('2026-12-06.1');
    expect(desk.versionGiven).toBe(true);
    expect(desk.withLimits({ maxIterations: 3 }).version).toBe('2026-12-06.1');
  });

  it('digests the definition: the same definition gives the same version', () => {
    expect(agent().version).toMatch(/^d:[0-9a-f]{12}$/);
    expect(agent().version).toBe(agent().version);
    // The model's script is not part of the definition's content; its identity is.
    expect(agent({ model: simulator({ script: [{ text: 'other' }] }) }).version).toBe(
      agent().version,
    );
  });

  it('changes the digest when what the agent would do changes', () => {
    const base = agent().version;
    const changed = [
      agent({ instructions: 'You help customers politely.' }),
      agent({ tools: [lookup('write')] }),
      agent({ tools: [lookup('read', '2')] }),
      agent({ tools: [] }),
      agent({ limits: { maxIterations: 4 } }),
      agent({ gates: { effects: ['write'] } }),
      agent({ model: simulator({ script: [], modelId: 'bigger' }) }),
      agent({ maxOutputTokens: 512 }),
      agent().withLimits({ maxIterations: 4 }),
    ].map((each) => each.version);
    for (const version of changed) expect(version).not.toBe(base);
    expect(new Set(changed).size).toBe(changed.length - 1); // limits set two ways agree
  });

  it('refuses a bad version, naming the field', () => {
    for (const version of ['', ' v1', 'v1/2', 'x'.repeat(65), 42]) {
      const error = (() => {
        try {
          agent({ version: version as string });
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(KeelError.isInstance(error) && error.code).toBe('invalid_definition');
      expect((error as Error).message).toContain('"version"');
    }
  });

  it('folds a journal without a version (written before versions) as unknown', () => {
    const state = foldRun([
      {
        type: 'run_started',
        agent: 'desk',
        task: 'Hello',
        taskProvenance: { trust: 'trusted', source: 'task' },
        model: { provider: 'simulator', modelId: 'simulator' },
        limits: agent().limits,
        startedAt: 1,
      },
    ]);
    expect(state).toMatchObject({ started: true, version: undefined, shadowOf: undefined });
  });
});
