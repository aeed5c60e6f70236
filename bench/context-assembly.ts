// Context assembly time per step over a 300-step run with large tool results: the managed
// context (pinned, summaries, working window, recall) built the way the engine builds it,
// step after step on one growing run state, next to the unmanaged request (the whole
// conversation) with its pre-flight count on the same states as the baseline. Measured with
// the simulator's estimate and with an OpenAI model's exact tokenizer. No model is called.
import { z } from 'zod';
import { TRUSTED_TASK } from '../src/core/index.js';
import { assembleRequest } from '../src/agent/index.js';
import { applyEvent, emptyRunState } from '../src/journal/index.js';
import {
  defineAgent,
  defineTool,
  openaiChat,
  simulator,
  type Agent,
  type ModelAdapterV1,
  type RunEvent,
} from '../src/index.js';
import { median, round } from './stats.js';

export interface ContextAssemblyCase {
  readonly model: string;
  /** Median over rounds of the mean time per step of the managed assembly. */
  readonly managedMsPerStep: number;
  /** Slowest single step of the managed assembly (any round), and which step it was. */
  readonly managedMaxMs: number;
  readonly managedSlowestStep: number;
  /** Baseline: the whole conversation plus its pre-flight count, same states. */
  readonly unmanagedMsPerStep: number;
  /** Input tokens of the last step's request, managed and unmanaged. */
  readonly managedLastTokens: number;
  readonly unmanagedLastTokens: number;
}

export interface ContextAssemblyResult {
  readonly steps: number;
  readonly resultChars: number;
  readonly rounds: number;
  readonly target: number;
  readonly cases: readonly ContextAssemblyCase[];
  readonly within: boolean;
}

export const STEPS = 300;
const RESULT_CHARS = 6_000;
const TARGET_MS = 2;

function page(step: number): string {
  const lines = [`Archive page ${step}.`];
  for (let line = 0; lines.join('\n').length < RESULT_CHARS; line += 1) {
    lines.push(
      `Shipment ${step}-${line}: crate k${(step * 31 + line) % 997} weighed ${(step * 7 + line * 13) % 500} kilograms at dock d${line % 17}.`,
    );
  }
  return lines.join('\n');
}

/** The events of one step: the model asks for a page, the tool returns it. */
export function stepEvents(step: number): RunEvent[] {
  const callId = `call_${step}_0`;
  return [
    {
      type: 'model_called',
      step,
      content: [
        { type: 'tool_call', callId, toolName: 'fetch_page', arguments: `{"page":${step}}` },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 0, outputTokens: 10 },
      costUsd: 0,
      estimatedInputTokens: 0,
      latencyMs: 0,
      attempts: 1,
      provenance: { trust: 'untrusted', source: 'model' },
    },
    {
      type: 'tool_requested',
      step,
      callId,
      index: 0,
      toolName: 'fetch_page',
      input: { page: step },
      effect: 'read',
    },
    {
      type: 'tool_finished',
      step,
      callId,
      toolName: 'fetch_page',
      content: page(step),
      contentHash: `h${step}`,
      provenance: { trust: 'untrusted', source: 'tool:fetch_page' },
      attempts: 1,
      latencyMs: 0,
    },
  ];
}

export function agentsFor(model: ModelAdapterV1): { managed: Agent; unmanaged: Agent } {
  const fetchPage = defineTool({
    name: 'fetch_page',
    description: 'Fetch one page of the archive.',
    input: z.object({ page: z.number().int() }),
    effect: 'read',
    untrustedOutput: true,
    run: () => Promise.resolve(''),
  });
  const base = {
    name: 'archivist',
    model,
    instructions: 'You read archives.',
    tools: [fetchPage],
    maxOutputTokens: 1_024,
  };
  return {
    managed: defineAgent({
      ...base,
      context: { windowTokens: 32_000, pinned: ['Never send archive content outside.'] },
    }),
    unmanaged: defineAgent(base),
  };
}

/** Mean ms per step over one 300-step run; `assemble` runs before each model call. */
function oneRun(assemble: (state: ReturnType<typeof emptyRunState>) => number): {
  perStepMs: number;
  maxMs: number;
  slowestStep: number;
  lastTokens: number;
} {
  const state = startedState();
  let total = 0;
  let maxMs = 0;
  let slowestStep = 0;
  let lastTokens = 0;
  for (let step = 0; step < STEPS; step += 1) {
    const startedAt = performance.now();
    lastTokens = assemble(state);
    const elapsed = performance.now() - startedAt;
    total += elapsed;
    if (elapsed > maxMs) {
      maxMs = elapsed;
      slowestStep = step;
    }
    for (const event of stepEvents(step)) applyEvent(state, event);
  }
  return { perStepMs: total / STEPS, maxMs, slowestStep, lastTokens };
}

/** A run state just after `run_started`, before its first step. */
export function startedState(): ReturnType<typeof emptyRunState> {
  const state = emptyRunState();
  applyEvent(state, {
    type: 'run_started',
    agent: 'archivist',
    task: 'Read every page of the archive with fetch_page, then report.',
    taskProvenance: TRUSTED_TASK,
    model: { provider: 'simulator', modelId: 'simulator' },
    limits: {
      maxIterations: 1_000,
      maxTokens: 1e12,
      maxCostUsd: 1e6,
      timeoutMs: 1e9,
      maxIdenticalCalls: 5,
      maxStepsWithoutProgress: 5,
    },
    startedAt: 0,
  });
  return state;
}

function measureCase(name: string, model: ModelAdapterV1, rounds: number): ContextAssemblyCase {
  const { managed, unmanaged } = agentsFor(model);
  // What the step function does before a call: the request and its pre-flight count (a
  // managed assembly's count is the sum of its sections).
  const count = (agent: Agent, state: ReturnType<typeof emptyRunState>): number => {
    const { request, assembly } = assembleRequest(agent, state);
    return assembly?.totalTokens ?? agent.model.estimateInputTokens?.(request) ?? 0;
  };
  // Warm-up: JIT and the tokenizer's ranks.
  oneRun((state) => count(managed, state));
  const managedRuns: number[] = [];
  const unmanagedRuns: number[] = [];
  let managedMaxMs = 0;
  let managedSlowestStep = 0;
  let managedLastTokens = 0;
  let unmanagedLastTokens = 0;
  for (let round = 0; round < rounds; round += 1) {
    const managedRun = oneRun((state) => count(managed, state));
    managedRuns.push(managedRun.perStepMs);
    if (managedRun.maxMs > managedMaxMs) {
      managedMaxMs = managedRun.maxMs;
      managedSlowestStep = managedRun.slowestStep;
    }
    managedLastTokens = managedRun.lastTokens;
    const unmanagedRun = oneRun((state) => count(unmanaged, state));
    unmanagedRuns.push(unmanagedRun.perStepMs);
    unmanagedLastTokens = unmanagedRun.lastTokens;
  }
  return {
    model: name,
    managedMsPerStep: round(median(managedRuns), 4),
    managedMaxMs: round(managedMaxMs, 3),
    managedSlowestStep,
    unmanagedMsPerStep: round(median(unmanagedRuns), 4),
    managedLastTokens,
    unmanagedLastTokens,
  };
}

/** Assembly time per step at 300 steps (target < 2 ms, summariser model calls excluded). */
export function measureContextAssembly({
  rounds = 5,
}: { rounds?: number } = {}): ContextAssemblyResult {
  const cases = [
    measureCase('simulator (estimate)', simulator({ script: [] }), rounds),
    measureCase(
      'openai:gpt-4.1-mini (tokenizer)',
      openaiChat({ model: 'gpt-4.1-mini', apiKey: 'bench', baseURL: 'http://127.0.0.1:9/v1' }),
      rounds,
    ),
  ];
  return {
    steps: STEPS,
    resultChars: RESULT_CHARS,
    rounds,
    target: TARGET_MS,
    cases,
    within: cases.every((entry) => entry.managedMsPerStep < TARGET_MS),
  };
}

export function renderContextAssembly(result: ContextAssemblyResult): string {
  return [
    `context assembly per step (${result.steps} steps, ~${result.resultChars}-character tool results, median of ${result.rounds} runs; target < ${result.target} ms: ${result.within ? 'within' : 'OVER'}):`,
    ...result.cases.map(
      (entry) =>
        `  ${entry.model}: ${entry.managedMsPerStep} ms managed (slowest step ${entry.managedMaxMs} ms at step ${entry.managedSlowestStep}, last request ${entry.managedLastTokens} tokens); baseline ${entry.unmanagedMsPerStep} ms for the whole conversation (${entry.unmanagedLastTokens} tokens)`,
    ),
  ].join('\n');
}
