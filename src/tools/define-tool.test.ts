import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../core/index.js';
import {
  DEFAULT_ESCAPE_ON,
  DEFAULT_TOOL_BREAKER,
  DEFAULT_TOOL_BULKHEAD,
  defineTool,
  type ToolDefinition,
} from './index.js';

function definition(overrides: Record<string, unknown> = {}): ToolDefinition {
  return {
    name: 'lookup',
    description: 'Look up',
    input: z.object({ id: z.string() }),
    effect: 'read',
    run: () => Promise.resolve(null),
    ...overrides,
  };
}

function faultOf(make: () => unknown): { code: string; message: string } | undefined {
  try {
    make();
  } catch (error) {
    if (KeelError.isInstance(error)) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
}

describe('defineTool policy options', () => {
  it.each([
    ['version', { version: 2 }],
    ['breaker.failureThreshold', { breaker: { failureThreshold: 0 } }],
    ['breaker.failureThreshold', { breaker: { failureThreshold: 1.5 } }],
    ['breaker.cooldownMs', { breaker: { cooldownMs: -1 } }],
    ['bulkhead.maxConcurrent', { bulkhead: { maxConcurrent: 0 } }],
    ['bulkhead.maxQueued', { bulkhead: { maxQueued: -1 } }],
    ['cache', { effect: 'egress', cache: { ttlMs: 1_000 } }],
    ['cache.ttlMs', { cache: { ttlMs: Number.NaN } }],
    ['escape.type', { escape: { type: 'retry' } }],
    ['retry.on', { retry: { on: ['not_found'] } }],
    ['retry.on', { retry: { on: 'timeout' } }],
    ['escape.value', { escape: { type: 'fallback' } }],
    ['escape.on', { escape: { type: 'handoff', on: ['gone'] } }],
    ['available', { available: true }],
    ['inputJsonSchema', { inputJsonSchema: 'object' }],
    // A misspelt option did nothing: the tool ran with the defaults.
    ['timeoutMS', { timeoutMS: 5 }],
    ['secretField', { secretField: { input: ['id'] } }],
    ['retry.maxAttempt', { retry: { maxAttempt: 3 } }],
    ['breaker.threshold', { breaker: { threshold: 2 } }],
    ['secretFields.inputs', { secretFields: { inputs: ['id'] } }],
    ['secretFields', { secretFields: ['id'] }],
  ])('rejects the definition naming "%s" when it is %j', (field, overrides) => {
    expect(faultOf(() => defineTool(definition(overrides)))).toEqual({
      code: 'invalid_definition',
      message: expect.stringContaining(`defineTool("lookup"): "${field}"`) as unknown,
    });
  });

  it('suggests the option a misspelt one is closest to', () => {
    expect(faultOf(() => defineTool(definition({ timeoutMS: 5 })))?.message).toBe(
      'defineTool("lookup"): "timeoutMS" is not an option (did you mean "timeoutMs"?)',
    );
  });

  it('takes a copy of a defined tool back, as a tool is redefined from itself', () => {
    const tool = defineTool(definition({ timeoutMs: 5_000 }));
    const again = defineTool({ ...tool, run: () => Promise.resolve('again') });
    expect([again.name, again.timeoutMs, again.spec.name]).toEqual(['lookup', 5_000, 'lookup']);
  });

  it('tells the model the JSON Schema it is given instead of the one derived from input', () => {
    const inputJsonSchema = {
      type: 'object',
      properties: { id: { type: 'string', format: 'uuid' } },
    };
    expect(defineTool(definition({ inputJsonSchema })).spec).toEqual({
      name: 'lookup',
      description: 'Look up',
      inputSchema: inputJsonSchema,
    });
    expect(defineTool(definition()).spec.inputSchema).toEqual({
      type: 'object',
      properties: { id: { type: 'string' } },
      required: ['id'],
    });
  });

  it('refuses keys the input does not declare unless the schema is loose', () => {
    const strict = defineTool(definition());
    expect(strict.input.safeParse({ id: 'a', extra: 1 }).success).toBe(false);
    const loose = defineTool(definition({ input: z.looseObject({ id: z.string() }) }));
    expect(loose.input.safeParse({ id: 'a', extra: 1 }).success).toBe(true);
  });

  it('fills in sane, frozen defaults', () => {
    const tool = defineTool(definition({ escape: { type: 'handoff' } }));
    expect({
      version: tool.version,
      breaker: tool.breaker,
      bulkhead: tool.bulkhead,
      cache: tool.cache,
      escapeOn: tool.escape?.on,
      frozen: [tool.breaker, tool.bulkhead, tool.escape].map((part) => Object.isFrozen(part)),
    }).toEqual({
      version: '1',
      breaker: DEFAULT_TOOL_BREAKER,
      bulkhead: DEFAULT_TOOL_BULKHEAD,
      cache: undefined,
      escapeOn: DEFAULT_ESCAPE_ON,
      frozen: [true, true, true],
    });
    expect(defineTool(definition({ breaker: false })).breaker).toBe(false);
  });
});
