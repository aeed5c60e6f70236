import type { Provenance } from '../core/index.js';
import {
  CONTEXT_SECTIONS,
  type ContextAssembly,
  type ContextSection,
  type ContextSectionName,
} from '../journal/index.js';
import type {
  Message,
  MessagePart,
  ModelRequest,
  TextPart,
  ToolResultPart,
  ToolSpec,
} from '../model/index.js';
import { budgetTokens, type ContextConfig, type JournaledSummaries } from './context-options.js';
import { rankByRelevance, termsOf, type RecallCandidate } from './recall.js';
import { summariseStep, rollUpSteps, type StepSummary } from './summarise-step.js';
import type { TokenCounter } from './token-counter.js';

export { CONTEXT_SECTIONS, type ContextAssembly, type ContextSection, type ContextSectionName };

export interface AssembleContextInput {
  readonly system: string;
  /** The run's conversation; the first message is the task. */
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens: number | undefined;
  readonly config: ContextConfig;
  readonly counter: TokenCounter;
  /** A tighter budget than the configured one (after the provider said the context was too long). */
  readonly budgetTokens?: number | undefined;
  /** Journaled summaries (model or custom) by step; other steps get the deterministic line. */
  readonly summaries?: JournaledSummaries | undefined;
  /**
   * References the store's search found for the current goal, most relevant first. Without it,
   * the run's results are ranked in memory.
   */
  readonly recalledRefs?: readonly string[] | undefined;
}

// Shares of what the pinned section leaves, once compression is on.
const WINDOW_SHARE = 0.5;
const SUMMARY_SHARE = 0.2;
const RECALL_SHARE = 0.3;

/**
 * Assemble the request for one step: **pinned** (instructions, pinned constraints, tools, the
 * task: never evicted or summarised), then, once the conversation passes `compressAt` of the
 * budget, **summaries** of older steps, **recalled** stored results relevant to the current
 * goal, and the **working window** of recent steps, whose older large results are shown as a
 * reference plus preview. Every part keeps its provenance label: a summary of untrusted content
 * is untrusted and recalled text keeps its source's label. Deterministic: the same conversation
 * and configuration always give the same request.
 *
 * ```ts
 * const { request, assembly } = assembleContext({
 *   system: agent.instructions, messages: state.messages, tools: specs,
 *   maxOutputTokens: 1024, config, counter: tokenCounter(agent.model),
 * });
 * ```
 */
export function assembleContext(input: AssembleContextInput): {
  readonly request: ModelRequest;
  readonly assembly: ContextAssembly;
} {
  const { config, counter, messages, tools, maxOutputTokens } = input;
  const system = pinnedSystem(input.system, config.pinned);
  const budget = Math.min(
    budgetTokens(config, maxOutputTokens),
    input.budgetTokens ?? Number.POSITIVE_INFINITY,
  );
  // A retry's cut is already the target; otherwise compress before the budget is reached.
  const target = input.budgetTokens === undefined ? Math.floor(budget * config.compressAt) : budget;
  const base = counter.request({ system, messages: [], tools });
  const [task, ...rest] = messages;
  const taskTokens = task ? counter.message(task) : 0;
  const pinned: ContextSection = {
    tokens: base + taskTokens,
    items: 1 + config.pinned.length + (task ? 1 : 0),
    untrusted: task && untrustedParts(task.parts) > 0 ? 1 : 0,
  };
  const request = (sent: readonly Message[]): ModelRequest => ({
    system,
    messages: sent,
    tools,
    maxOutputTokens,
  });

  let restTokens = 0;
  for (const message of rest) restTokens += counter.message(message);
  if (pinned.tokens + restTokens <= target) {
    return {
      request: request([...messages]),
      assembly: {
        budgetTokens: budget,
        totalTokens: pinned.tokens + restTokens,
        compressed: false,
        sections: {
          pinned,
          summaries: EMPTY_SECTION,
          window: {
            tokens: restTokens,
            items: rest.length,
            untrusted: rest.filter((message) => untrustedParts(message.parts) > 0).length,
          },
          recalled: EMPTY_SECTION,
        },
        summarisedSteps: 0,
        storedResults: 0,
        recalled: [],
      },
    };
  }

  const available = Math.max(0, target - pinned.tokens);
  const steps = stepsOf(rest);
  const window = workingWindow(steps, config, counter, Math.floor(available * WINDOW_SHARE));
  const older = steps.slice(0, steps.length - window.steps.length);

  const summaries = fitSummaries(
    older.map((step) => {
      const summary = summariseStep(step.messages, step.index, config.previewChars);
      const journaled = input.summaries?.get(step.index);
      return journaled ? { ...summary, part: journaled } : summary;
    }),
    counter,
    Math.floor(available * SUMMARY_SHARE),
  );
  const shownInFull = new Set(window.fullResults);
  const recalled = recall(
    input.recalledRefs === undefined
      ? rankByRelevance(
          goalTerms(task, steps.at(-1)),
          recallCandidates(steps, shownInFull, counter),
        )
      : storedInOrder(input.recalledRefs, steps, shownInFull, counter),
    config,
    counter,
    Math.floor(available * RECALL_SHARE),
  );

  const leadParts: MessagePart[] = [...(task?.parts ?? []), ...summaries.parts, ...recalled.parts];
  const lead: Message = { role: task?.role ?? 'user', parts: leadParts };
  const sent = [lead, ...window.messages];
  const sections = {
    pinned,
    summaries: sectionOf(summaries.parts, counter),
    window: {
      tokens: window.tokens,
      items: window.messages.length,
      untrusted: window.messages.filter((message) => untrustedParts(message.parts) > 0).length,
    },
    recalled: {
      tokens: recalled.tokens,
      items: recalled.parts.length,
      untrusted: untrustedParts(recalled.parts),
    },
  };
  return {
    request: request(sent),
    assembly: {
      budgetTokens: budget,
      totalTokens:
        sections.pinned.tokens +
        sections.summaries.tokens +
        sections.window.tokens +
        sections.recalled.tokens,
      compressed: true,
      sections,
      summarisedSteps: older.length,
      storedResults: window.referenced + older.reduce((sum, step) => sum + step.results, 0),
      recalled: recalled.refs,
      ...(input.recalledRefs === undefined ? {} : { recallSource: 'store' as const }),
    },
  };
}

/** Every tool result of the run that recall may bring back (not errors, not shown in full). */
function recallCandidates(
  steps: readonly Step[],
  shownInFull: ReadonlySet<ToolResultPart>,
  counter: TokenCounter,
): RecallCandidate<StoredResult>[] {
  const candidates: RecallCandidate<StoredResult>[] = [];
  for (const step of steps) {
    for (const message of step.messages) {
      for (const part of message.parts) {
        if (part.type !== 'tool_result' || part.isError || shownInFull.has(part)) continue;
        candidates.push({
          item: { part, step: step.index, tokens: resultTokens(message, part, counter) },
          terms: termsOfResult(part),
        });
      }
    }
  }
  return candidates;
}

/** The results the store found, in its order; ones already shown in full are left out. */
function storedInOrder(
  refs: readonly string[],
  steps: readonly Step[],
  shownInFull: ReadonlySet<ToolResultPart>,
  counter: TokenCounter,
): StoredResult[] {
  const found: StoredResult[] = [];
  for (const ref of refs) {
    const match = /^result:(\d+):(.*)$/s.exec(ref);
    const step = match ? steps[Number(match[1])] : undefined;
    if (!match || !step) continue;
    for (const message of step.messages) {
      for (const part of message.parts) {
        if (part.type !== 'tool_result' || part.callId !== match[2]) continue;
        if (part.isError || shownInFull.has(part)) continue;
        found.push({ part, step: step.index, tokens: resultTokens(message, part, counter) });
      }
    }
  }
  return found;
}

/**
 * The words recall searches for at the next step: the task's and those of the model's latest
 * turn (its text and its calls' arguments).
 *
 * ```ts
 * const terms = recallTerms(state.messages); // ['zephyr', 'vault', 'code', ...]
 * ```
 */
export function recallTerms(messages: readonly Message[]): string[] {
  const [task, ...rest] = messages;
  const latest = rest.findLast((message) => message.role === 'assistant');
  return [...goalTerms(task, latest ? { index: 0, messages: [latest], results: 0 } : undefined)];
}

/**
 * The completed steps a summariser should summarise before the next assembly: those the
 * assembly shows only as summaries and that have none journaled, newest first, at most `max`.
 * `assembly` is `input`'s assembly when the caller has already made it.
 *
 * ```ts
 * for (const { step, messages } of stepsToSummarise(input, state.stepSummaries, 4)) { ... }
 * ```
 */
export function stepsToSummarise(
  input: AssembleContextInput,
  journaled: ReadonlySet<number> | ReadonlyMap<number, unknown>,
  max: number,
  assembly: ContextAssembly = assembleContext(input).assembly,
): { readonly step: number; readonly messages: readonly Message[] }[] {
  if (!assembly.compressed || assembly.summarisedSteps === 0) return [];
  const steps = stepsOf(input.messages.slice(1));
  const due: { step: number; messages: readonly Message[] }[] = [];
  for (let at = assembly.summarisedSteps - 1; at >= 0 && due.length < max; at -= 1) {
    const step = steps[at];
    if (step && !journaled.has(step.index)) due.push({ step: step.index, messages: step.messages });
  }
  return due;
}

/**
 * The tool results of a run large enough to be stored for recall (above `largeResultTokens`),
 * with the reference each is known by.
 *
 * ```ts
 * for (const { ref, part, step } of largeResults(state.messages, config, counter)) { ... }
 * ```
 */
export function largeResults(
  messages: readonly Message[],
  config: ContextConfig,
  counter: TokenCounter,
): { readonly ref: string; readonly step: number; readonly part: ToolResultPart }[] {
  const found: { ref: string; step: number; part: ToolResultPart }[] = [];
  for (const step of stepsOf(messages.slice(1))) {
    for (const message of step.messages) {
      for (const part of message.parts) {
        if (part.type !== 'tool_result' || part.isError) continue;
        if (resultTokens(message, part, counter) <= config.largeResultTokens) continue;
        found.push({ ref: resultRef(step.index, part.callId), step: step.index, part });
      }
    }
  }
  return found;
}

/** The reference a stored tool result is known by in context and in the journal. */
export function resultRef(step: number, callId: string): string {
  return `result:${step}:${callId}`;
}

const EMPTY_SECTION: ContextSection = Object.freeze({ tokens: 0, items: 0, untrusted: 0 });

interface Step {
  /** The model call this step began with (0-based). */
  readonly index: number;
  readonly messages: readonly Message[];
  /** Tool results in the step. */
  readonly results: number;
}

interface StoredResult {
  readonly part: ToolResultPart;
  readonly step: number;
  /** The result's own token count (cached with its message). */
  readonly tokens: number;
}

/**
 * A result's tokens: a result alone in its message counts as that message (cached once per
 * message), so a large result is tokenized once rather than once per view of it.
 */
function resultTokens(message: Message, part: ToolResultPart, counter: TokenCounter): number {
  return message.parts.length === 1 ? counter.message(message) : counter.part(part);
}

function pinnedSystem(instructions: string, pinned: readonly string[]): string {
  if (pinned.length === 0) return instructions;
  return `${instructions}\n\nPinned constraints (always apply):\n${pinned.map((text) => `- ${text}`).join('\n')}`;
}

/** Split the conversation after the task into steps, each starting at a model turn. */
function stepsOf(messages: readonly Message[]): Step[] {
  const steps: { index: number; messages: Message[]; results: number }[] = [];
  for (const message of messages) {
    let current = steps.at(-1);
    if (message.role === 'assistant' || !current) {
      current = { index: steps.length, messages: [], results: 0 };
      steps.push(current);
    }
    current.messages.push(message);
    current.results += message.parts.filter((part) => part.type === 'tool_result').length;
  }
  return steps;
}

/**
 * The most recent steps that fit `tokens` (at most `windowSteps`; the latest always). Large
 * results of all but the latest step show as a reference plus preview; a latest result larger
 * than the window's share is cut to fit, its full text recallable later.
 */
function workingWindow(
  steps: readonly Step[],
  config: ContextConfig,
  counter: TokenCounter,
  tokens: number,
): {
  steps: Step[];
  messages: Message[];
  tokens: number;
  fullResults: ToolResultPart[];
  referenced: number;
} {
  const kept: Step[] = [];
  const keptMessages: Message[][] = [];
  const fullResults: ToolResultPart[] = [];
  let used = 0;
  let referenced = 0;
  for (let at = steps.length - 1; at >= 0 && kept.length < config.windowSteps; at -= 1) {
    const step = steps[at] as Step;
    const latest = at === steps.length - 1;
    const limit = latest
      ? Math.max(config.largeResultTokens, tokens - used)
      : config.largeResultTokens;
    let stepTokens = 0;
    let stepReferenced = 0;
    const stepFull: ToolResultPart[] = [];
    const shown = step.messages.map((message) => {
      const shownMessage = compactMessage(message, step.index, limit, latest, config, counter);
      stepReferenced += shownMessage.referenced;
      stepFull.push(...shownMessage.full);
      stepTokens += counter.message(shownMessage.message);
      return shownMessage.message;
    });
    if (!latest && used + stepTokens > tokens) break;
    kept.unshift(step);
    keptMessages.unshift(shown);
    fullResults.push(...stepFull);
    used += stepTokens;
    referenced += stepReferenced;
  }
  return { steps: kept, messages: keptMessages.flat(), tokens: used, fullResults, referenced };
}

// Compacted messages are cached per original message and limit, so counts stay cached too.
const compacted = new WeakMap<Message, Map<string, { message: Message; referenced: number }>>();

function compactMessage(
  message: Message,
  step: number,
  limit: number,
  latest: boolean,
  config: ContextConfig,
  counter: TokenCounter,
): { message: Message; referenced: number; full: ToolResultPart[] } {
  const full = message.parts.filter(
    (part): part is ToolResultPart =>
      part.type === 'tool_result' && resultTokens(message, part, counter) <= limit,
  );
  if (full.length === message.parts.filter((part) => part.type === 'tool_result').length) {
    return { message, referenced: 0, full };
  }
  const key = `${limit}:${latest ? 'latest' : 'older'}`;
  let byKey = compacted.get(message);
  const cached = byKey?.get(key);
  if (cached) return { ...cached, full };
  let referenced = 0;
  const parts = message.parts.map((part) => {
    if (part.type !== 'tool_result' || resultTokens(message, part, counter) <= limit) return part;
    referenced += 1;
    return { ...part, content: reference(part, step, limit, latest, config, counter) };
  });
  const result = { message: { role: message.role, parts }, referenced };
  if (!byKey) {
    byKey = new Map();
    compacted.set(message, byKey);
  }
  byKey.set(key, result);
  return { ...result, full };
}

/**
 * The short stand-in for a stored result: its reference, size and a preview. For the latest
 * step the preview is as long as the window allows.
 */
function reference(
  part: ToolResultPart,
  step: number,
  limit: number,
  latest: boolean,
  config: ContextConfig,
  counter: TokenCounter,
): string {
  const head = `[stored ${resultRef(step, part.callId)}: ${part.toolName} result, ${part.content.length} characters; recalled in full when relevant. Preview:]\n`;
  if (!latest) return `${head}${clip(part.content, config.previewChars)}`;
  // The latest result: keep as much as fits, measured with the model's own counter.
  let chars = Math.max(config.previewChars, part.content.length);
  for (;;) {
    const text = `${head}${clip(part.content, chars)}`;
    if (chars <= config.previewChars || counter.part({ ...part, content: text }) <= limit) {
      return text;
    }
    chars = Math.max(config.previewChars, Math.floor(chars * 0.8));
  }
}

/** Summaries of the older steps that fit, the oldest merged into one roll-up line. */
function fitSummaries(
  summaries: readonly StepSummary[],
  counter: TokenCounter,
  tokens: number,
): { parts: TextPart[] } {
  const kept: TextPart[] = [];
  let used = 0;
  let at = summaries.length - 1;
  for (; at >= 0; at -= 1) {
    const summary = summaries[at] as StepSummary;
    const cost = counter.part(summary.part);
    // Room is kept for the roll-up line of whatever does not fit.
    if (used + cost > tokens * 0.9) break;
    kept.unshift(summary.part);
    used += cost;
  }
  if (at >= 0) kept.unshift(rollUpSteps(summaries.slice(0, at + 1)));
  return { parts: kept };
}

const resultTerms = new WeakMap<ToolResultPart, Set<string>>();

function termsOfResult(part: ToolResultPart): Set<string> {
  let terms = resultTerms.get(part);
  if (!terms) {
    terms = termsOf(part.content);
    resultTerms.set(part, terms);
  }
  return terms;
}

/** The current goal: the task and the model's latest turn (its words and its calls). */
function goalTerms(task: Message | undefined, latest: Step | undefined): Set<string> {
  const texts: string[] = [];
  for (const message of [task, latest?.messages[0]]) {
    for (const part of message?.parts ?? []) {
      if (part.type === 'text') texts.push(part.text);
      else if (part.type === 'tool_call') texts.push(part.arguments);
    }
  }
  return termsOf(texts.join('\n'));
}

function recall(
  ranked: readonly StoredResult[],
  config: ContextConfig,
  counter: TokenCounter,
  tokens: number,
): { parts: TextPart[]; refs: string[]; tokens: number } {
  const parts: TextPart[] = [];
  const refs: string[] = [];
  let used = 0;
  for (const { part, step, tokens: resultCost } of ranked) {
    if (refs.length >= config.maxRecalled) break;
    const ref = resultRef(step, part.callId);
    const head = `Recalled ${ref} (${part.toolName} result from step ${step}):\n`;
    // Recalled text keeps the label of the result it came from. In full, its cost is bounded by
    // the result's count plus the heading's (a tokenizer never needs more for the joined text).
    let chars = part.content.length;
    let text = recalledPart(part, head, chars);
    let cost = resultCost + counter.part({ type: 'text', text: head, provenance: part.provenance });
    while (used + cost > tokens && chars > config.previewChars) {
      chars = Math.max(config.previewChars, Math.floor(chars * 0.7));
      text = recalledPart(part, head, chars);
      cost = counter.part(text);
    }
    if (used + cost > tokens) break;
    parts.push(text);
    refs.push(ref);
    used += cost;
  }
  return { parts, refs, tokens: used };
}

// Recalled parts are cached per result and length, so their token counts are cached too.
const recalledParts = new WeakMap<ToolResultPart, Map<number, TextPart>>();

function recalledPart(part: ToolResultPart, head: string, chars: number): TextPart {
  let byLength = recalledParts.get(part);
  const known = byLength?.get(chars);
  if (known) return known;
  const text: TextPart = {
    type: 'text',
    text: `${head}${clip(part.content, chars)}`,
    provenance: part.provenance,
  };
  if (!byLength) {
    byLength = new Map();
    recalledParts.set(part, byLength);
  }
  byLength.set(chars, text);
  return text;
}

function sectionOf(parts: readonly TextPart[], counter: TokenCounter): ContextSection {
  let tokens = 0;
  for (const part of parts) tokens += counter.part(part);
  return { tokens, items: parts.length, untrusted: untrustedParts(parts) };
}

function untrustedParts(parts: readonly { readonly provenance: Provenance }[]): number {
  return parts.filter((part) => part.provenance.trust === 'untrusted').length;
}

function clip(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}…`;
}
