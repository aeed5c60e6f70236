import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../core/index.js';
import { createPriceTable, parsePriceOverrides, resolveModel, simulator } from '../model/index.js';
import {
  DEFAULT_TOOL_RETRY,
  DEFAULT_TOOL_TIMEOUT_MS,
  defineTool,
  type Tool,
  type ToolDefinition,
} from '../tools/index.js';
import { costLimitProblem, defineAgent, type AgentDefinition } from './index.js';
import { DEFAULT_LIMITS } from '../journal/index.js';

const model = simulator({ script: [{ text: 'done' }] });

function lookupDefinition(overrides: Record<string, unknown> = {}): ToolDefinition {
  return {
    name: 'lookup_order',
    description: 'Find an order by id',
    input: z.object({ orderId: z.string() }),
    effect: 'read',
    run: () => Promise.resolve('found'),
    ...overrides,
  };
}

const lookupOrder = defineTool(lookupDefinition());
const issueRefund = defineTool(
  lookupDefinition({
    name: 'issue_refund',
    description: 'Refund an order',
    effect: 'write',
  }),
);

function agentDefinition(overrides: Record<string, unknown> = {}): AgentDefinition {
  return {
    name: 'refunds',
    model,
    instructions: 'You handle refund requests.',
    tools: [lookupOrder],
    ...overrides,
  };
}

/** The `KeelError` a definition throws, reduced to its code and whether it names `field`. */
function definitionFault(
  define: () => unknown,
  field: string,
): { code: string; namesField: boolean } {
  try {
    define();
  } catch (error) {
    if (!KeelError.isInstance(error)) throw error;
    return { code: error.code, namesField: error.message.includes(`"${field}"`) };
  }
  throw new Error(`expected the definition to be rejected for "${field}"`);
}

const INVALID = { code: 'invalid_definition', namesField: true };

describe('defineAgent', () => {
  it.each([
    ['name', { name: 'Refund Agent' }],
    ['name', { name: '' }],
    ['name', { name: 42 }],
    ['model', { model: {} }],
    ['model', { model: undefined }],
    ['model', { model: { specificationVersion: 'v2', doGenerate: () => undefined } }],
    ['instructions', { instructions: '   ' }],
    ['instructions', { instructions: undefined }],
    ['tools', { tools: 'lookup_order' }],
    ['tools[1]', { tools: [lookupOrder, lookupOrder] }],
    ['tools[2]', { tools: [lookupOrder, issueRefund, lookupOrder] }],
    ['limits.maxIterations', { limits: { maxIterations: 0 } }],
    ['limits.maxIterations', { limits: { maxIterations: -3 } }],
    ['limits.timeoutMs', { limits: { timeoutMs: Number.NaN } }],
    ['limits.maxSteps', { limits: { maxSteps: 10 } }],
    ['maxOutputTokens', { maxOutputTokens: 0 }],
    ['maxOutputTokens', { maxOutputTokens: 1.5 }],
    // Counts are whole: 0.5 model calls ran as one.
    ['limits.maxIterations', { limits: { maxIterations: 0.5 } }],
    ['limits.maxIdenticalCalls', { limits: { maxIdenticalCalls: 0.1 } }],
    ['limits.maxTokens', { limits: { maxTokens: 1_000.5 } }],
    ['limits.maxStepsWithoutProgress', { limits: { maxStepsWithoutProgress: 2.5 } }],
    // (1e20, a count no run reaches, is whole and stays accepted: see below.)
    // A misspelt option did nothing: `gate` left every irreversible call ungated.
    ['gate', { gate: { effects: ['irreversible'] } }],
    ['limit', { limit: { maxIterations: 1 } }],
    ['onOutofScope', { onOutofScope: 'stop' }],
    ['effect', { gates: { effect: ['irreversible', 'egress', 'write'] } }],
    ['tools.lookup_order.whenn', { gates: { tools: { lookup_order: { whenn: 'confirm' } } } }],
    ['context.windowToken', { context: { windowToken: 8_000 } }],
    ['untrusted.handlin', { untrusted: { handlin: 'spotlight' } }],
  ])('rejects the definition naming "%s" when it is %j', (field, overrides) => {
    expect(definitionFault(() => defineAgent(agentDefinition(overrides)), field)).toEqual(INVALID);
  });

  it('takes a count no run reaches as a limit, written as a large whole number', () => {
    const agent = defineAgent(agentDefinition({ limits: { maxTokens: 1e20, maxIterations: 1e9 } }));
    expect([agent.limits.maxTokens, agent.limits.maxIterations]).toEqual([1e20, 1e9]);
  });

  it('rejects a tools entry that is not a tool, including null, naming its index', () => {
    for (const entry of [{}, { run: () => undefined }, null]) {
      expect(
        definitionFault(
          () => defineAgent(agentDefinition({ tools: [lookupOrder, entry] })),
          'tools[1]',
        ),
      ).toEqual(INVALID);
    }
  });

  it('rejects a null model as a model fault rather than crashing', () => {
    expect(definitionFault(() => defineAgent(agentDefinition({ model: null })), 'model')).toEqual(
      INVALID,
    );
  });

  it('returns a frozen agent with resolved limits and a frozen tool list when valid', () => {
    const agent = defineAgent(
      agentDefinition({ tools: [lookupOrder, issueRefund], limits: { maxIterations: 8 } }),
    );
    expect({
      name: agent.name,
      description: agent.description,
      instructions: agent.instructions,
      limits: agent.limits,
      tools: agent.tools.map((tool) => tool.name),
      maxOutputTokens: agent.maxOutputTokens,
      lookup: agent.tool('issue_refund'),
      missing: agent.tool('nope'),
    }).toEqual({
      name: 'refunds',
      description: '',
      instructions: 'You handle refund requests.',
      limits: { ...DEFAULT_LIMITS, maxIterations: 8 },
      tools: ['lookup_order', 'issue_refund'],
      maxOutputTokens: undefined,
      lookup: issueRefund,
      missing: undefined,
    });
    expect([
      Object.isFrozen(agent),
      Object.isFrozen(agent.tools),
      Object.isFrozen(agent.limits),
    ]).toEqual([true, true, true]);
  });

  it('keeps its own copy of the tools array when the caller mutates the definition', () => {
    const tools: Tool[] = [lookupOrder];
    const agent = defineAgent(agentDefinition({ tools }));
    tools.push(issueRefund);
    expect(agent.tools.map((tool) => tool.name)).toEqual(['lookup_order']);
  });

  it('returns a new agent from withTool and leaves the original unchanged', () => {
    const original = defineAgent(agentDefinition());
    const extended = original.withTool(issueRefund);
    expect({
      same: extended === original,
      original: original.tools.map((tool) => tool.name),
      originalLookup: original.tool('issue_refund'),
      extended: extended.tools.map((tool) => tool.name),
      extendedLookup: extended.tool('issue_refund'),
      frozen: Object.isFrozen(extended) && Object.isFrozen(extended.tools),
    }).toEqual({
      same: false,
      original: ['lookup_order'],
      originalLookup: undefined,
      extended: ['lookup_order', 'issue_refund'],
      extendedLookup: issueRefund,
      frozen: true,
    });
  });

  it('rejects withTool when the agent already has a tool of that name', () => {
    const agent = defineAgent(agentDefinition());
    let code: string | undefined;
    try {
      agent.withTool(defineTool(lookupDefinition()));
    } catch (error) {
      code = KeelError.isInstance(error) ? error.code : 'other';
    }
    expect({ code, tools: agent.tools.length }).toEqual({ code: 'invalid_definition', tools: 1 });
  });

  it('replaces the tool set with withTools and keeps gates, limits and instructions', () => {
    const original = defineAgent(agentDefinition({ gates: {}, limits: { maxIterations: 7 } }));
    const replaced = original.withTools([issueRefund]);
    expect({
      original: original.tools.map((tool) => tool.name),
      replaced: replaced.tools.map((tool) => tool.name),
      lookup: replaced.tool('lookup_order'),
      gates: replaced.gates === original.gates && replaced.gates !== undefined,
      limits: replaced.limits.maxIterations,
      instructions: replaced.instructions === original.instructions,
    }).toEqual({
      original: ['lookup_order'],
      replaced: ['issue_refund'],
      lookup: undefined,
      gates: true,
      limits: 7,
      instructions: true,
    });
  });

  it('rejects withTools when two of the new tools share a name', () => {
    const agent = defineAgent(agentDefinition());
    let code: string | undefined;
    try {
      agent.withTools([lookupOrder, defineTool(lookupDefinition())]);
    } catch (error) {
      code = KeelError.isInstance(error) ? error.code : 'other';
    }
    expect({ code, tools: agent.tools.length }).toEqual({ code: 'invalid_definition', tools: 1 });
  });

  it('refuses a defined agent spread into a definition as such, and takes its definition', () => {
    const definition = agentDefinition();
    const agent = defineAgent(definition);
    expect(() => defineAgent({ ...agent, name: 'refunds_b' } as never)).toThrow(
      'defineAgent("refunds_b"): this is a copy of a defined agent, not a definition; spread the definition it was made from instead',
    );
    // A definition made by a class keeps its methods on the prototype: it is no copy.
    class Draft {
      readonly name = 'drafted';
      readonly model = model;
      readonly instructions = 'Answer.';
      withModel(): this {
        return this;
      }
    }
    expect(defineAgent(new Draft()).name).toBe('drafted');
    const twin = defineAgent({ ...definition, name: 'refunds_b' });
    expect([twin.name, twin.tools.map((tool) => tool.name)]).toEqual([
      'refunds_b',
      agent.tools.map((tool) => tool.name),
    ]);
  });

  it('returns new agents from withModel and withLimits and validates the new limits', () => {
    const original = defineAgent(agentDefinition());
    const other = simulator({ script: [{ text: 'other' }], modelId: 'other' });
    const withModel = original.withModel(other);
    const withLimits = original.withLimits({ maxTokens: 1_000 });
    expect({
      originalModel: original.model,
      newModel: withModel.model,
      originalLimits: original.limits,
      newLimits: withLimits.limits,
    }).toEqual({
      originalModel: model,
      newModel: other,
      originalLimits: DEFAULT_LIMITS,
      newLimits: { ...DEFAULT_LIMITS, maxTokens: 1_000 },
    });
    expect(
      definitionFault(() => original.withLimits({ maxCostUsd: -1 }), 'limits.maxCostUsd'),
    ).toEqual(INVALID);
  });
});

describe('defineTool', () => {
  it.each([
    ['name', { name: '1lookup' }],
    ['name', { name: 'look up' }],
    ['name', { name: undefined }],
    ['description', { description: '' }],
    ['description', { description: '  ' }],
    ['input', { input: z.string() }],
    ['input', { input: { orderId: 'string' } }],
    ['effect', { effect: 'delete' }],
    ['effect', { effect: undefined }],
    ['run', { run: 'not a function' }],
    ['idempotent', { idempotent: 'yes' }],
    ['untrustedOutput', { untrustedOutput: 1 }],
    ['retry.maxAttempts', { retry: { maxAttempts: 0 } }],
    ['retry.maxAttempts', { retry: { maxAttempts: 1.5 } }],
    ['retry', { retry: { initialDelayMs: 500, maxDelayMs: 100 } }],
    ['retry', { retry: { initialDelayMs: -1 } }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['timeoutMs', { timeoutMs: -5 }],
    ['timeoutMs', { timeoutMs: Number.POSITIVE_INFINITY }],
  ])('rejects the definition naming "%s" when it is %j', (field, overrides) => {
    expect(definitionFault(() => defineTool(lookupDefinition(overrides)), field)).toEqual(INVALID);
  });

  it('rejects a definition that is not an object, including null, naming "definition"', () => {
    for (const definition of ['lookup_order', null]) {
      expect(definitionFault(() => defineTool(definition as never), 'definition')).toEqual(INVALID);
    }
  });

  it('returns a frozen tool with defaults filled in when valid', () => {
    expect({
      frozen: [
        Object.isFrozen(lookupOrder),
        Object.isFrozen(lookupOrder.spec),
        Object.isFrozen(lookupOrder.retry),
      ],
      untrustedOutput: lookupOrder.untrustedOutput,
      timeoutMs: lookupOrder.timeoutMs,
      retry: lookupOrder.retry,
    }).toEqual({
      frozen: [true, true, true],
      untrustedOutput: false,
      timeoutMs: DEFAULT_TOOL_TIMEOUT_MS,
      retry: DEFAULT_TOOL_RETRY,
    });
  });

  it('makes read tools idempotent by default and other effects only when declared', () => {
    const writeDeclared = defineTool(lookupDefinition({ effect: 'write', idempotent: true }));
    const readDeclined = defineTool(lookupDefinition({ idempotent: false }));
    expect([
      lookupOrder.idempotent,
      issueRefund.idempotent,
      writeDeclared.idempotent,
      readDeclined.idempotent,
    ]).toEqual([true, false, true, false]);
  });

  it('merges partial retry options over the defaults', () => {
    const tool = defineTool(lookupDefinition({ retry: { maxAttempts: 5 }, timeoutMs: 250 }));
    expect({ retry: tool.retry, timeoutMs: tool.timeoutMs }).toEqual({
      retry: { ...DEFAULT_TOOL_RETRY, maxAttempts: 5 },
      timeoutMs: 250,
    });
  });

  it('describes the zod input as JSON Schema in spec.inputSchema', () => {
    const tool = defineTool(
      lookupDefinition({
        input: z.object({
          orderId: z.string().describe('The order id'),
          express: z.boolean().optional(),
          quantity: z.number().int().min(1).default(1),
        }),
      }),
    );
    expect(tool.spec).toEqual({
      name: 'lookup_order',
      description: 'Find an order by id',
      inputSchema: {
        type: 'object',
        properties: {
          orderId: { type: 'string', description: 'The order id' },
          express: { type: 'boolean' },
          quantity: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1 },
        },
        required: ['orderId'],
      },
    });
  });
});

describe('defineAgent: a cost limit must be one that holds', () => {
  const unpriced = simulator({ script: [{ text: 'ok' }], price: null });
  const base = { name: 'costed', instructions: 'Answer.' } as const;
  const failure = (attempt: () => unknown): KeelError => {
    try {
      attempt();
    } catch (error) {
      if (KeelError.isInstance(error)) return error;
      throw error;
    }
    throw new Error('expected a KeelError');
  };

  it('refuses an adapter written by hand whose price no cost can be computed from', () => {
    const priced = simulator({ script: [{ text: 'ok' }] });
    const misspelt = { ...priced, price: { input: 1, output: 4 } } as unknown as typeof priced;
    const negative = {
      ...priced,
      fallbacks: [{ ...priced, price: { inputPerMillion: -1, outputPerMillion: 1 } }],
    };
    const errors = [misspelt, negative].map((model) =>
      failure(() => defineAgent({ ...base, model, limits: { maxCostUsd: 0.5 } })),
    );
    expect(errors.map((error) => [error.code, error.message])).toEqual([
      [
        'invalid_definition',
        'defineAgent("costed"): "model" has a price no cost can be computed from: "price.inputPerMillion" Invalid input: expected number, received undefined',
      ],
      [
        'invalid_definition',
        'defineAgent("costed"): "model.fallbacks.0" has a price no cost can be computed from: "price.inputPerMillion" Too small: expected number to be >=0',
      ],
    ]);
    expect(defineAgent({ ...base, model: priced, limits: { maxCostUsd: 0.5 } }).name).toBe(
      'costed',
    );
  });

  it('refuses maxCostUsd on a model without a price, naming the fixes', () => {
    const error = failure(() =>
      defineAgent({ ...base, model: unpriced, limits: { maxCostUsd: 0.5 } }),
    );
    expect(error.code).toBe('invalid_definition');
    expect(error.message).toContain('"limits.maxCostUsd" cannot hold');
    expect(error.message).toContain('model "simulator:simulator" has no known price');
    expect(error.message).toContain('keel.prices.json');
    expect(error.message).toContain("maxCostUsd: 'tokens-only'");
  });

  it.each([['token-only'], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['0.5']])(
    'names a maxCostUsd that is neither a price nor tokens-only (%s) before the price',
    (maxCostUsd) => {
      const error = failure(() =>
        defineAgent({
          ...base,
          model: unpriced,
          limits: { maxCostUsd: maxCostUsd as number },
        }),
      );
      expect(error.code).toBe('invalid_definition');
      expect(error.message).toContain(
        `"limits.maxCostUsd" must be a positive number of US dollars, or 'tokens-only'`,
      );
    },
  );

  it('refuses it on an unpriced model string (a local server), at definition', () => {
    const error = failure(() =>
      defineAgent({
        ...base,
        model: 'openai-compatible:http://127.0.0.1:11434/v1#llama3.1',
        limits: { maxCostUsd: 0.5 },
      }),
    );
    // As the definition wrote it: the adapter calls itself "openai:llama3.1".
    expect(error.message).toContain(
      'model "openai-compatible:http://127.0.0.1:11434/v1#llama3.1" has no known price',
    );
  });

  it('names a keel.prices.json entry that, filled in, lets the agent be defined', () => {
    // The second id would be read as a regular expression if written as it is.
    for (const id of ['llama3.1', '/models/c++/']) {
      const spec = `openai-compatible:http://127.0.0.1:11434/v1#${id}`;
      const error = failure(() =>
        defineAgent({ ...base, model: spec, limits: { maxCostUsd: 0.5 } }),
      );
      const entry = /add (\{.*?\}) to "models"/.exec(error.message)?.[1];
      expect(entry, id).toBeDefined();
      const filled = JSON.parse((entry ?? '').replaceAll('<USD>', '0.2')) as unknown;
      const prices = createPriceTable({
        overrides: parsePriceOverrides({ models: [filled] }, 'keel.prices.json'),
      });
      const agent = defineAgent({
        ...base,
        model: resolveModel(spec, undefined, { prices }),
        limits: { maxCostUsd: 0.5 },
      });
      expect(agent.model.price, id).toMatchObject({ inputPerMillion: 0.2, outputPerMillion: 0.2 });
    }
  });

  it('refuses it when a fallback has no price', () => {
    const priced = simulator({ script: [{ text: 'ok' }] });
    const error = failure(() =>
      defineAgent({
        ...base,
        model: { ...priced, fallbacks: [{ ...unpriced, modelId: 'backup' }] },
        limits: { maxCostUsd: 0.5 },
      }),
    );
    expect(error.message).toContain('model "simulator:backup" has no known price');
  });

  it("names, in a model string's chain, the part written for the unpriced model", () => {
    const priced = simulator({ script: [{ text: 'ok' }] });
    const chain = { ...priced, fallbacks: [{ ...unpriced, modelId: 'backup' }] };
    expect(costLimitProblem(chain, 'agent', 'main:first , local:backup')).toContain(
      'model "local:backup" has no known price',
    );
    expect(costLimitProblem(chain, 'agent')).toContain('model "simulator:backup"');
    expect(costLimitProblem(priced, 'agent', 'main:first')).toBeUndefined();
  });

  it('accepts it once the model has a price', () => {
    const priced = simulator({
      script: [{ text: 'ok' }],
      price: { inputPerMillion: 1, outputPerMillion: 2 },
    });
    expect(
      defineAgent({ ...base, model: priced, limits: { maxCostUsd: 0.5 } }).limits.maxCostUsd,
    ).toBe(0.5);
  });

  it("accepts 'tokens-only' on an unpriced model: no cost limit, the token limit holds", () => {
    const agent = defineAgent({
      ...base,
      model: unpriced,
      limits: { maxCostUsd: 'tokens-only', maxTokens: 5_000 },
    });
    expect(agent.limits.maxCostUsd).toBe(Number.MAX_VALUE);
    expect(agent.limits.maxTokens).toBe(5_000);
  });

  it('an unpriced model without an explicit cost limit is accepted (the default is not a promise)', () => {
    expect(() => defineAgent({ ...base, model: unpriced })).not.toThrow();
  });

  describe('the warning that a model string has no price', () => {
    const warned = (model: string, limits?: { maxCostUsd: number | 'tokens-only' }): string[] => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        try {
          defineAgent({ ...base, model, ...(limits ? { limits } : {}) });
        } catch (error) {
          if (!KeelError.isInstance(error)) throw error;
        }
        return warn.mock.calls.map((call) => String(call[0]));
      } finally {
        warn.mockRestore();
      }
    };

    it('is given for the default cost limit, which it cannot enforce', () => {
      expect(warned('openai-compatible:http://127.0.0.1:9/v1#unpriced-default')).toEqual([
        expect.stringContaining(
          'no price known for model "openai-compatible:http://127.0.0.1:9/v1#unpriced-default"',
        ),
      ]);
    });

    it('is not given before the error that refuses a set cost limit, nor for tokens-only', () => {
      expect([
        warned('openai-compatible:http://127.0.0.1:9/v1#unpriced-set', { maxCostUsd: 0.5 }),
        warned('openai-compatible:http://127.0.0.1:9/v1#unpriced-tokens', {
          maxCostUsd: 'tokens-only',
        }),
      ]).toEqual([[], []]);
    });
  });
});
