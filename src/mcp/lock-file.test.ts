import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import {
  exportPins,
  fingerprintOf,
  importPins,
  lockFileText,
  parseLockFile,
  type McpToolDefinition,
} from './index.js';

const LOOKUP: McpToolDefinition = {
  name: 'lookup_order',
  description: 'Find an order by its id.',
  inputSchema: { type: 'object', properties: { orderId: { type: 'string' } } },
  outputSchema: null,
  annotations: { readOnlyHint: true },
};

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function store(): Promise<Store> {
  const opening = await openStore('sqlite::memory:');
  opened.push(opening);
  return opening;
}

describe('fingerprintOf', () => {
  it('ignores key order and changes with any word of the definition', () => {
    const reordered = JSON.parse(
      '{"annotations":{"readOnlyHint":true},"outputSchema":null,"inputSchema":{"properties":{"orderId":{"type":"string"}},"type":"object"},"description":"Find an order by its id.","name":"lookup_order"}',
    ) as McpToolDefinition;
    expect(fingerprintOf(reordered)).toBe(fingerprintOf(LOOKUP));
    expect(fingerprintOf({ ...LOOKUP, description: 'Find an order by its id. ' })).not.toBe(
      fingerprintOf(LOOKUP),
    );
  });
});

describe('the MCP lock file', () => {
  it('exports the pins and imports them into another store, once', async () => {
    const source = await store();
    const fingerprint = fingerprintOf(LOOKUP);
    await source.mcpPins.pin({
      server: 'orders',
      tool: 'lookup_order',
      fingerprint,
      definition: LOOKUP,
      by: 'ana',
      at: 1,
    });
    await source.mcpPins.recordPending({
      server: 'orders',
      tool: 'send_reply',
      fingerprint: 'waiting',
      definition: {},
      at: 2,
    });
    const text = lockFileText(await exportPins(source));
    const lock = parseLockFile(text, 'keel.mcp.lock');
    expect(lock).toEqual({
      lockfileVersion: 1,
      pins: [{ server: 'orders', tool: 'lookup_order', fingerprint, definition: LOOKUP }],
    });

    const target = await store();
    const first = await importPins(target, lock, { by: 'lock file (bo)', at: 3 });
    const again = await importPins(target, lock, { by: 'lock file (bo)', at: 4 });
    expect([first.pinned.length, first.unchanged, again.pinned.length, again.unchanged]).toEqual([
      1, 0, 0, 1,
    ]);
    expect(await target.mcpPins.list()).toEqual([
      {
        server: 'orders',
        tool: 'lookup_order',
        pinned: { fingerprint, definition: LOOKUP, by: 'lock file (bo)', at: 3 },
        pending: null,
      },
    ]);
    const audit = (await target.audit.read()).map((entry) => entry.kind);
    expect(audit).toEqual(['mcp_tool_pinned']);
  });

  it.each([
    ['not JSON', 'nope'],
    ['the wrong version', '{"lockfileVersion":2,"pins":[]}'],
    [
      'a definition edited by hand',
      JSON.stringify({
        lockfileVersion: 1,
        pins: [
          {
            server: 'orders',
            tool: 'lookup_order',
            fingerprint: fingerprintOf(LOOKUP),
            definition: { ...LOOKUP, description: 'Edited.' },
          },
        ],
      }),
    ],
  ])('rejects %s as invalid input', (_what, text) => {
    let caught: unknown;
    try {
      parseLockFile(text, 'keel.mcp.lock');
    } catch (error) {
      caught = error;
    }
    expect(KeelError.isInstance(caught) && caught.code).toBe('invalid_input');
  });
});
