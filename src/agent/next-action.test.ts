import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TRUSTED_TASK, digest } from '../core/index.js';
import {
  SIMULATOR_PRICE,
  costOf,
  estimateInputTokens,
  simulator,
  type ModelResponse,
  type ModelUsage,
} from '../model/index.js';
import { defineTool } from '../tools/index.js';
import { buildRequest, defineAgent, nextAction, validateToolCalls, type Agent } from './index.js';
import { DEFAULT_LIMITS, foldRun, type RunEvent, type RunLimits } from '../journal/index.js';

const START = 1_700_000_000_000;
const TASK = 'Where is order A-1?';
const USAGE: ModelUsage = { inputTokens: 100, outputTokens: 20 };

const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Find an order by id',
  input: z.object({ orderId: z.string() }),
  effect: 'read',
  run: () => Promise.resolve('found'),
});
const searchOrders = defineTool({
  name: 'search_orders',
  description: 'Search orders',
  input: z.object({ query: z.string(), page: z.number() }),
  effect: 'read',
  run: () => Promise.resolve([]),
});
const listOrders = defineTool({
  name: 'list_orders',
  description: 'List all orders',
  input: z.object({}),
  effect: 'read',
  run: () => Promise.resolve([]),
});

function makeAgent(
  options: { maxOutputTokens?: number; price?: null; limits?: Partial<RunLimits> } = {},
): Agent {
  return defineAgent({
    name: 'orders',
    model: simulator({ script: [], ...(options.price === null ? { price: null } : {}) }),
    instructions: 'Answer questions about orders.',
    tools: [lookupOrder, searchOrders, listOrders],
    ...(options.maxOutputTokens === undefined ? {} : { maxOutputTokens: options.maxOutputTokens }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}

const agent = makeAgent();

function started(limits: Partial<RunLimits> = {}): RunEvent {
  return {
    type: 'run_started',
    agent: 'orders',
    task: TASK,
    taskProvenance: TRUSTED_TASK,
    model: { provider: 'simulator', modelId: 'simulator' },
    limits: { ...DEFAULT_LIMITS, ...limits },
    startedAt: START,
  };
}

interface Call {
  readonly name: string;
  readonly args: unknown;
}

function modelCalled(step: number, calls: readonly Call[]): RunEvent {
  return {
    type: 'model_called',
    step,
    content: calls.map((call, index) => ({
      type: 'tool_call',
      callId: `call_${step}_${index}`,
      toolName: call.name,
      arguments: JSON.stringify(call.args),
    })),
    finishReason: 'tool_calls',
    usage: USAGE,
    costUsd: costOf(USAGE, SIMULATOR_PRICE),
    estimatedInputTokens: 100,
    latencyMs: 1,
    attempts: 1,
    provenance: { trust: 'trusted', source: 'model' },
  };
}

function requested(step: number, index: number, call: Call): RunEvent {
  return {
    type: 'tool_requested',
    step,
    callId: `call_${step}_${index}`,
    index,
    toolName: call.name,
    input: call.args,
    effect: 'read',
  };
}

function finished(step: number, index: number, toolName: string, content: string): RunEvent {
  return {
    type: 'tool_finished',
    step,
    callId: `call_${step}_${index}`,
    toolName,
    content,
    contentHash: digest(content),
    provenance: { trust: 'trusted', source: `tool:${toolName}` },
    attempts: 1,
    latencyMs: 1,
  };
}

function rejected(step: number, index: number, toolName: string): RunEvent {
  return {
    type: 'tool_rejected',
    step,
    callId: `call_${step}_${index}`,
    index,
    toolName,
    error: { type: 'invalid_input', message: 'arguments are not valid JSON' },
  };
}

/** One completed step: the model asks for one lookup, the tool answers `content`. */
function toolStep(step: number, content: string): RunEvent[] {
  const call = { name: 'lookup_order', args: { orderId: `A-${step}` } };
  return [
    modelCalled(step, [call]),
    requested(step, 0, call),
    finished(step, 0, call.name, content),
  ];
}

/** One completed step whose only call was rejected as malformed. */
function rejectedStep(step: number): RunEvent[] {
  return [
    modelCalled(step, [{ name: 'lookup_order', args: 'not json' }]),
    rejected(step, 0, 'lookup_order'),
  ];
}

function response(
  calls: readonly (readonly [toolName: string, argumentsText: string])[],
): ModelResponse {
  return {
    content: [
      { type: 'text', text: 'Let me check.' },
      ...calls.map(([toolName, argumentsText], index) => ({
        type: 'tool_call' as const,
        callId: `c${index}`,
        toolName,
        arguments: argumentsText,
      })),
    ],
    usage: USAGE,
    finishReason: 'tool_calls',
  };
}

describe('nextAction', () => {
  it('asks for a model call with the instructions, the conversation and the tool specs when no limit is near', () => {
    const state = foldRun([started()]);
    const request = {
      system: 'Answer questions about orders.',
      messages: [{ role: 'user', parts: [{ type: 'text', text: TASK, provenance: TRUSTED_TASK }] }],
      tools: [lookupOrder.spec, searchOrders.spec, listOrders.spec],
      maxOutputTokens: undefined,
    } as const;
    expect(nextAction(agent, state, START + 10)).toEqual({
      type: 'call_model',
      request,
      estimatedInputTokens: estimateInputTokens(request),
    });
  });

  it('returns done when the run has finished', () => {
    const state = foldRun([
      started(),
      {
        type: 'run_finished',
        status: 'succeeded',
        reason: { type: 'final_answer' },
        output: 'shipped',
        usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true },
        steps: 1,
      },
    ]);
    expect(nextAction(agent, state, START + 10)).toEqual({ type: 'done' });
  });

  it('executes pending calls in call order before checking iterations, progress, tokens or cost', () => {
    const first = { name: 'lookup_order', args: { orderId: 'A-1' } };
    const second = { name: 'lookup_order', args: { orderId: 'A-2' } };
    const events = [
      started({ maxIterations: 2, maxStepsWithoutProgress: 1, maxTokens: 1, maxCostUsd: 1e-9 }),
      ...rejectedStep(0),
      modelCalled(1, [first, second]),
      requested(1, 1, second),
      requested(1, 0, first),
    ];
    const pending = (index: number, call: Call) => ({
      step: 1,
      callId: `call_1_${index}`,
      index,
      toolName: call.name,
      input: call.args,
      attemptsStarted: 0,
      attemptsFailed: 0,
    });
    expect(nextAction(agent, foldRun(events), START + 10)).toEqual({
      type: 'execute_tools',
      calls: [pending(0, first), pending(1, second)],
    });

    events.push(finished(1, 0, 'lookup_order', 'order A-1'));
    expect(nextAction(agent, foldRun(events), START + 10)).toEqual({
      type: 'execute_tools',
      calls: [pending(1, second)],
    });

    events.push(finished(1, 1, 'lookup_order', 'order A-2'));
    expect(nextAction(agent, foldRun(events), START + 10)).toEqual({
      type: 'stop',
      limit: 'iterations',
      used: 2,
      max: 2,
    });
  });

  it('stops on timeout once the wall clock is spent, even with calls pending', () => {
    const call = { name: 'lookup_order', args: { orderId: 'A-1' } };
    const state = foldRun([
      started({ timeoutMs: 1_000 }),
      modelCalled(0, [call]),
      requested(0, 0, call),
    ]);
    expect(nextAction(agent, state, START + 999)).toEqual({
      type: 'execute_tools',
      calls: [expect.objectContaining({ callId: 'call_0_0' })],
    });
    expect(nextAction(agent, state, START + 1_000)).toEqual({
      type: 'stop',
      limit: 'timeout',
      used: 1_000,
      max: 1_000,
    });
  });

  it('stops on timeout before a model call when the wall clock is spent', () => {
    const state = foldRun([started({ timeoutMs: 5_000 }), ...toolStep(0, 'order A-0')]);
    expect(nextAction(agent, state, START + 4_999).type).toBe('call_model');
    expect(nextAction(agent, state, START + 7_000)).toEqual({
      type: 'stop',
      limit: 'timeout',
      used: 7_000,
      max: 5_000,
    });
  });

  it('stops on iterations when the steps taken reach maxIterations', () => {
    const steps = [...toolStep(0, 'order A-0'), ...toolStep(1, 'order A-1')];
    expect(nextAction(agent, foldRun([started({ maxIterations: 3 }), ...steps]), START).type).toBe(
      'call_model',
    );
    expect(nextAction(agent, foldRun([started({ maxIterations: 2 }), ...steps]), START)).toEqual({
      type: 'stop',
      limit: 'iterations',
      used: 2,
      max: 2,
    });
  });

  it('uses the limits recorded at run start over the agent limits', () => {
    const strict = makeAgent({ limits: { maxIterations: 1 } });
    const state = foldRun([started({ maxIterations: 5 }), ...toolStep(0, 'order A-0')]);
    expect(nextAction(strict, state, START).type).toBe('call_model');
  });

  it('stops on no_progress when consecutive steps return only content already seen', () => {
    const steps = [...toolStep(0, 'same'), ...toolStep(1, 'same'), ...toolStep(2, 'same')];
    expect(
      nextAction(agent, foldRun([started({ maxStepsWithoutProgress: 3 }), ...steps]), START).type,
    ).toBe('call_model');
    expect(
      nextAction(agent, foldRun([started({ maxStepsWithoutProgress: 2 }), ...steps]), START),
    ).toEqual({ type: 'stop', limit: 'no_progress', used: 2, max: 2 });
  });

  it('resets the no_progress count when a step returns new content', () => {
    const events = [
      started({ maxStepsWithoutProgress: 2 }),
      ...toolStep(0, 'same'),
      ...toolStep(1, 'same'),
      ...toolStep(2, 'same'),
      ...toolStep(3, 'new'),
    ];
    const state = foldRun(events);
    expect({
      stepsWithoutProgress: state.stepsWithoutProgress,
      action: nextAction(agent, state, START).type,
    }).toEqual({
      stepsWithoutProgress: 0,
      action: 'call_model',
    });
  });

  it('counts steps whose calls were all rejected as malformed toward no_progress', () => {
    const state = foldRun([
      started({ maxStepsWithoutProgress: 2 }),
      ...rejectedStep(0),
      ...rejectedStep(1),
    ]);
    expect(nextAction(agent, state, START)).toEqual({
      type: 'stop',
      limit: 'no_progress',
      used: 2,
      max: 2,
    });
  });

  it('stops on tokens when usage plus the input estimate would exceed maxTokens', () => {
    const steps = toolStep(0, 'order A-0');
    const probe = foldRun([started(), ...steps]);
    const estimate = estimateInputTokens(buildRequest(agent, probe));
    const used = USAGE.inputTokens + USAGE.outputTokens + estimate;

    expect(nextAction(agent, foldRun([started({ maxTokens: used }), ...steps]), START).type).toBe(
      'call_model',
    );
    expect(nextAction(agent, foldRun([started({ maxTokens: used - 1 }), ...steps]), START)).toEqual(
      {
        type: 'stop',
        limit: 'tokens',
        used,
        max: used - 1,
      },
    );
  });

  it('counts maxOutputTokens as expected output in the token estimate', () => {
    const capped = makeAgent({ maxOutputTokens: 50 });
    const steps = toolStep(0, 'order A-0');
    const estimate = estimateInputTokens(buildRequest(capped, foldRun([started(), ...steps])));
    const used = USAGE.inputTokens + USAGE.outputTokens + estimate + 50;

    expect(nextAction(capped, foldRun([started({ maxTokens: used }), ...steps]), START).type).toBe(
      'call_model',
    );
    expect(
      nextAction(capped, foldRun([started({ maxTokens: used - 1 }), ...steps]), START),
    ).toEqual({
      type: 'stop',
      limit: 'tokens',
      used,
      max: used - 1,
    });
  });

  it('stops on cost when spent cost plus the estimated cost would exceed maxCostUsd', () => {
    const capped = makeAgent({ maxOutputTokens: 50 });
    const steps = toolStep(0, 'order A-0');
    const probe = foldRun([started(), ...steps]);
    const estimate = estimateInputTokens(buildRequest(capped, probe));
    const spent = probe.usage.costUsd;
    const inputOnly = costOf({ inputTokens: estimate, outputTokens: 0 }, SIMULATOR_PRICE)!;
    const withOutput = costOf({ inputTokens: estimate, outputTokens: 50 }, SIMULATOR_PRICE)!;

    expect(spent).toBe(costOf(USAGE, SIMULATOR_PRICE));
    expect(
      nextAction(capped, foldRun([started({ maxCostUsd: spent + withOutput }), ...steps]), START)
        .type,
    ).toBe('call_model');
    // Enough for the input alone, not for the expected output on top.
    expect(
      nextAction(capped, foldRun([started({ maxCostUsd: spent + inputOnly }), ...steps]), START),
    ).toEqual({ type: 'stop', limit: 'cost', used: spent + withOutput, max: spent + inputOnly });
  });

  it('never stops on cost when the model price is unknown', () => {
    const unpriced = makeAgent({ price: null, maxOutputTokens: 50 });
    const state = foldRun([started({ maxCostUsd: 1e-12 }), ...toolStep(0, 'order A-0')]);
    expect(nextAction(unpriced, state, START).type).toBe('call_model');
  });
});

describe('validateToolCalls', () => {
  it('classifies bad JSON, unknown tools and schema mismatches as typed rejections', () => {
    const state = foldRun([started()]);
    const result = validateToolCalls(
      agent,
      state,
      0,
      response([
        ['lookup_order', '{"orderId": '],
        ['delete_everything', '{}'],
        ['lookup_order', '{"orderId": 42}'],
        ['lookup_order', '{"orderId": "A-1", "extra": true}'],
        ['list_orders', ''],
      ]),
    );
    const rejection = (index: number, toolName: string, type: string) => ({
      type: 'tool_rejected',
      step: 0,
      callId: `c${index}`,
      index,
      toolName,
      error: { type, message: expect.any(String) },
    });
    expect(result).toEqual({
      events: [
        rejection(0, 'lookup_order', 'invalid_input'),
        { ...rejection(1, 'delete_everything', 'not_found'), outOfScope: true },
        rejection(2, 'lookup_order', 'invalid_input'),
        {
          // A key the schema does not declare is refused (tool schemas are strict by default).
          type: 'tool_rejected',
          step: 0,
          callId: 'c3',
          index: 3,
          toolName: 'lookup_order',
          error: {
            type: 'invalid_input',
            message: 'arguments do not match the input schema: ✖ Unrecognized key: "extra"',
          },
        },
        {
          type: 'tool_requested',
          step: 0,
          callId: 'c4',
          index: 4,
          toolName: 'list_orders',
          input: {},
          effect: 'read',
        },
      ],
    });
  });

  it('detects identical calls against the run history by canonical arguments', () => {
    const call = { name: 'search_orders', args: { query: 'late', page: 1 } };
    const history = [
      modelCalled(0, [call]),
      requested(0, 0, call),
      finished(0, 0, call.name, 'page 1'),
      modelCalled(1, [call]),
      requested(1, 0, call),
      finished(1, 0, call.name, 'page 1 again'),
    ];
    const sameCall = response([['search_orders', '{"page": 1, "query": "late"}']]);
    const otherCall = response([['search_orders', '{"page": 2, "query": "late"}']]);

    expect(
      validateToolCalls(
        agent,
        foldRun([started({ maxIdenticalCalls: 2 }), ...history]),
        2,
        sameCall,
      ),
    ).toEqual({
      events: [],
      limitHit: { limit: 'identical_calls', used: 3, max: 2 },
    });
    expect(
      validateToolCalls(
        agent,
        foldRun([started({ maxIdenticalCalls: 2 }), ...history]),
        2,
        otherCall,
      ).limitHit,
    ).toBeUndefined();
    expect(
      validateToolCalls(
        agent,
        foldRun([started({ maxIdenticalCalls: 3 }), ...history]),
        2,
        sameCall,
      ).limitHit,
    ).toBeUndefined();
  });

  it('counts identical calls within the same response', () => {
    const calls = response([
      ['lookup_order', '{"orderId":"A-1"}'],
      ['lookup_order', '{"orderId":"A-1"}'],
      ['lookup_order', '{"orderId":"A-1"}'],
    ]);
    const requestedCall = (index: number) => ({
      type: 'tool_requested',
      step: 0,
      callId: `c${index}`,
      index,
      toolName: 'lookup_order',
      input: { orderId: 'A-1' },
      effect: 'read',
    });
    expect(
      validateToolCalls(agent, foldRun([started({ maxIdenticalCalls: 2 })]), 0, calls),
    ).toEqual({
      events: [requestedCall(0), requestedCall(1)],
      limitHit: { limit: 'identical_calls', used: 3, max: 2 },
    });
    expect(
      validateToolCalls(agent, foldRun([started({ maxIdenticalCalls: 3 })]), 0, calls),
    ).toEqual({
      events: [requestedCall(0), requestedCall(1), requestedCall(2)],
    });
  });
});

describe('tools that are not available now', () => {
  /** An agent whose `send_reply` is available while `open` says so. */
  function agentWithSwitch(open: { value: boolean }): Agent {
    const sendReply = defineTool({
      name: 'send_reply',
      description: 'Reply to the customer',
      input: z.object({ text: z.string() }),
      effect: 'egress',
      available: () => open.value,
      run: () => Promise.resolve('sent'),
    });
    return defineAgent({
      name: 'orders',
      model: simulator({ script: [] }),
      instructions: 'Answer questions about orders.',
      tools: [lookupOrder, sendReply],
    });
  }

  it('offers an available tool and lets its calls through', () => {
    const switched = agentWithSwitch({ value: true });
    const state = foldRun([started()]);
    expect(buildRequest(switched, state).tools.map((spec) => spec.name)).toEqual([
      'lookup_order',
      'send_reply',
    ]);
    expect(
      validateToolCalls(switched, state, 0, response([['send_reply', '{"text":"hi"}']])).events,
    ).toEqual([
      {
        type: 'tool_requested',
        step: 0,
        callId: 'c0',
        index: 0,
        toolName: 'send_reply',
        input: { text: 'hi' },
        effect: 'egress',
      },
    ]);
  });

  it('leaves a withheld tool out of the request and refuses a call to it as forbidden', () => {
    const open = { value: true };
    const switched = agentWithSwitch(open);
    const state = foldRun([started()]);
    open.value = false;
    expect(buildRequest(switched, state).tools.map((spec) => spec.name)).toEqual(['lookup_order']);
    expect(
      validateToolCalls(switched, state, 0, response([['send_reply', '{"text":"hi"}']])).events,
    ).toEqual([
      {
        type: 'tool_rejected',
        step: 0,
        callId: 'c0',
        index: 0,
        toolName: 'send_reply',
        error: { type: 'forbidden', message: 'tool "send_reply" is not available now' },
      },
    ]);
  });
});
