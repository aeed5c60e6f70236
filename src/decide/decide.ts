import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  KeelError,
  TRUSTED_RUNTIME,
  canonicalJson,
  digest,
  once,
  sleep,
  systemClock,
  type Clock,
  type Provenance,
} from '../core/index.js';
import {
  DEFAULT_MODEL_RETRY,
  costOf,
  checkUsage,
  modelCallFailure,
  modelRetryDelay,
  type Message,
  type ModelAdapterV1,
  type ModelCallError,
  type ModelRetryOptions,
  type ModelTiers,
  type ModelUsage,
} from '../model/index.js';
import type { DecisionRecord, Store } from '../store/index.js';
import type { JournaledDecisionEntry, ToolContext } from '../tools/index.js';
import type { DecisionCache } from './decision-cache.js';
import type { DecisionEvent } from '../journal/index.js';

/** What a decision can do when the model is not sure enough. */
export const LOW_CONFIDENCE_ACTIONS = ['review', 'fallback'] as const;
/** A decision below its confidence floor: send it to a human (`review`) or take the fallback. */
export type LowConfidenceAction = (typeof LOW_CONFIDENCE_ACTIONS)[number];

/** What `decide` takes: the model, the schema of the answer, retries, votes, the confidence floor and the fallback. */
export interface DecisionOptions<Schema extends z.ZodType> {
  /** The shape of the value; the model is shown its JSON schema and every answer is parsed. */
  readonly schema: Schema;
  /** Trusted instructions: what to decide. */
  readonly instructions: string;
  /** What to decide about (a ticket, a document...): labelled untrusted. */
  readonly input: unknown;
  /** The model; without one, `tiers.model(tier)`. */
  readonly model?: ModelAdapterV1 | undefined;
  readonly tiers?: ModelTiers | undefined;
  /** Default `fast`. */
  readonly tier?: string | undefined;
  /**
   * Further attempts after an invalid answer (each fed the validation error) or a retryable
   * model failure. Default 2. A failure the model-retry policy calls final (`authentication`,
   * `bad_request`, …) is not retried.
   */
  readonly retries?: number | undefined;
  /**
   * The waits between attempts after a retryable model failure: the engine's policy
   * (exponential backoff with jitter from 250 ms, at most 30 s, never shorter than the
   * provider's retry-after; `maxAttempts` 4 failed calls per vote) unless set.
   */
  readonly modelRetry?: Partial<ModelRetryOptions> | undefined;
  /** Below this confidence (0..1) the decision goes to review or to the fallback. Default 0. */
  readonly minConfidence?: number | undefined;
  /** Default `fallback`. `review` needs a `store`. */
  readonly onLowConfidence?: LowConfidenceAction | undefined;
  /** The value returned when no valid, confident answer is found. */
  readonly fallback: z.infer<Schema>;
  /** Self-consistency: this many samples, majority wins; disagreement lowers confidence. */
  readonly votes?: number | undefined;
  /** Default 0 (1 with votes > 1, so samples can differ). The cache serves only 0. */
  readonly temperature?: number | undefined;
  readonly cache?: DecisionCache | undefined;
  /** Where the decision record (its journal, and any review item) is kept. */
  readonly store?: Store | undefined;
  /** The run this decision is made for, linked in the record. */
  readonly runId?: string | undefined;
  /**
   * The context of the tool call making the decision, inside a run: the decision's entries go
   * into the run's journal (`decision_recorded` events of the call), its model calls count
   * against the run's budget, and a re-executed call (a retry, a resume, a replay) is served
   * the decision it already made, in order, without a model call. Sets `runId`.
   */
  readonly run?: Pick<ToolContext, 'runId' | 'journal'> | undefined;
  /** `decision` (default) or `route`. */
  readonly kind?: string | undefined;
  /** Plain data kept with a review item, for whoever resolves it (e.g. the run to start). */
  readonly onResolve?: unknown;
  readonly maxOutputTokens?: number | undefined;
  readonly clock?: Clock | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Every way a decision can end. */
export const DECISION_OUTCOMES = ['decided', 'cached', 'fallback', 'review'] as const;
/** How a decision ended: decided by the model, served from the cache, the fallback, or sent to a human. */
export type DecisionOutcome = (typeof DECISION_OUTCOMES)[number];

/** Where a decision's value came from. */
export const DECISION_SOURCES = ['model', 'cache', 'fallback'] as const;
/** Where a decision's value came from: the model, the cache, the fallback, or a human. */
export type DecisionSource = (typeof DECISION_SOURCES)[number];

/** The model's answer: the value it picked, how sure it said it was, and why. */
export interface DecisionProposal<Value> {
  readonly value: Value;
  readonly confidence: number;
  readonly reasoning: string | undefined;
}

/**
 * What `decide()` returns; never thrown. A fallback (`source: 'fallback'`) has confidence 0:
 * under `review` the fallback stands in until a human chooses (see `waitForReview`), and the
 * model's own low-confidence answer is in `proposal`.
 */
export interface Decision<Value> {
  readonly id: string;
  readonly status: DecisionOutcome;
  readonly value: Value;
  /** Confidence in `value`: the model's (or the cached) confidence, 0 for a fallback. */
  readonly confidence: number;
  readonly source: DecisionSource;
  /** Why the value is a fallback or under review. */
  readonly reason: string | undefined;
  /** The model's answer, when it gave a valid one (used or not). */
  readonly proposal: DecisionProposal<Value> | undefined;
  /** Model calls made. */
  readonly calls: number;
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
  /** `null` when a call's price is unknown. */
  readonly costUsd: number | null;
  readonly events: readonly DecisionEvent[];
}

const ANSWER_HINT =
  'Answer with one JSON object and nothing else: {"value": <the value>, "confidence": <0 to 1>, "reason": "<why, in one sentence>"}. The "value" must match this JSON schema:';
const UNTRUSTED_INPUT: Provenance = Object.freeze({ trust: 'untrusted', source: 'decide:input' });
const MODEL_OUTPUT: Provenance = Object.freeze({ trust: 'untrusted', source: 'model' });

/**
 * Ask a model for a schema-validated value. An invalid answer (not JSON, or not the schema) is
 * fed back with its error and asked again, up to `retries`; when nothing valid comes back, or
 * the confidence is below `minConfidence`, the result is the declared `fallback` (or, with
 * `onLowConfidence: 'review'`, a durable review item). Model and store faults become the
 * fallback too: `decide` never throws for them. Invalid options throw `invalid_config`.
 *
 * ```ts
 * const decision = await decide({
 *   schema: z.enum(['billing', 'shipping', 'other']),
 *   instructions: 'Classify the support ticket.',
 *   input: ticket,
 *   tiers,
 *   minConfidence: 0.7,
 *   onLowConfidence: 'review',
 *   fallback: 'other',
 *   store,
 * });
 * ```
 */
export async function decide<Schema extends z.ZodType>(
  options: DecisionOptions<Schema>,
): Promise<Decision<z.infer<Schema>>> {
  const journal = options.run?.journal;
  if (!options.run || !journal) return decideOnce(options);
  // The n-th decision of this execution of the call is the n-th one the call journaled.
  const ordinal = ordinals.get(options.run) ?? 0;
  ordinals.set(options.run, ordinal + 1);
  const earlier = earlierDecision(journal.earlier(), ordinal, options);
  if (earlier) return earlier;
  const decision = await decideOnce({ ...options, runId: options.runId ?? options.run.runId });
  // All of a decision's entries commit together: a crash before leaves no half decision.
  await journal
    .append(decision.events.map((entry) => ({ decisionId: decision.id, entry })))
    .catch(noop);
  return decision;
}

/** Decisions made so far per tool-call context (one context per attempt). */
const ordinals = new WeakMap<object, number>();

/** The `ordinal`-th decision journaled by the call, as `decide` returned it, if it still parses. */
function earlierDecision<Schema extends z.ZodType>(
  journaled: readonly JournaledDecisionEntry[],
  ordinal: number,
  options: DecisionOptions<Schema>,
): Decision<z.infer<Schema>> | undefined {
  const ids = [...new Set(journaled.map((item) => item.decisionId))];
  const id = ids[ordinal];
  if (id === undefined) return undefined;
  const events = journaled.filter((item) => item.decisionId === id).map((item) => item.entry);
  const parse = (value: unknown): { value: z.infer<Schema> } | undefined => {
    const parsed = options.schema.safeParse(value);
    return parsed.success ? { value: parsed.data } : undefined;
  };
  const made = events.findLast((event) => event.type === 'decision_made');
  const proposed = made ? parse(made.value) : undefined;
  const proposal =
    made && proposed
      ? { value: proposed.value, confidence: made.confidence, reasoning: made.reasoning }
      : undefined;
  const served = (
    status: DecisionOutcome,
    value: unknown,
    confidence: number,
    reason: string | undefined,
  ): Decision<z.infer<Schema>> | undefined => {
    const parsed = parse(value);
    if (!parsed) return undefined;
    return {
      id,
      status,
      value: parsed.value,
      confidence,
      source: SOURCES[status],
      reason,
      proposal,
      calls: 0,
      usage: { inputTokens: 0, outputTokens: 0 },
      costUsd: 0,
      events,
    };
  };
  for (const event of [...events].reverse()) {
    switch (event.type) {
      case 'decision_fallback':
        return served('fallback', options.fallback, 0, event.reason);
      case 'decision_review_requested':
        return served('review', options.fallback, 0, lowConfidence(event));
      case 'decision_made':
        return served('decided', event.value, event.confidence, undefined);
      case 'decision_cache_hit':
        if (event.confidence === undefined) return undefined;
        return served('cached', event.value, event.confidence, undefined);
      case 'decision_started':
      case 'decision_attempt':
      case 'decision_vote':
      case 'decision_resolved':
        break;
      default:
        event satisfies never;
    }
  }
  return undefined;
}

const SOURCES = {
  decided: 'model',
  cached: 'cache',
  fallback: 'fallback',
  review: 'fallback',
} as const satisfies Record<DecisionOutcome, DecisionSource>;

function lowConfidence(event: { readonly confidence: number; readonly minConfidence: number }) {
  return `confidence ${round(event.confidence)} is below ${event.minConfidence}`;
}

interface Ballot<Value> {
  readonly value: Value;
  readonly confidence: number;
  readonly reasoning: string | undefined;
}

async function decideOnce<Schema extends z.ZodType>(
  options: DecisionOptions<Schema>,
): Promise<Decision<z.infer<Schema>>> {
  const {
    schema,
    instructions,
    input,
    retries = 2,
    minConfidence = 0,
    onLowConfidence = 'fallback',
    votes = 1,
    cache,
    store,
    clock = systemClock,
    signal,
  } = options;
  const temperature = options.temperature ?? (votes > 1 ? 1 : 0);
  const model = modelOf(options);
  checkOptions(options, { retries, minConfidence, votes });
  const modelRetry: ModelRetryOptions = { ...DEFAULT_MODEL_RETRY, ...options.modelRetry };
  const jsonSchema = z.toJSONSchema(schema, { unrepresentable: 'any' });
  const cacheKey = digest(
    canonicalJson({ schema: jsonSchema, instructions, input: normalise(input) }),
  );
  const id = `dec_${Date.now().toString(36)}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const events: DecisionEvent[] = [];
  const totals = { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 as number | null };
  const createdAt = clock.now();
  const cacheable = cache !== undefined && temperature === 0;
  events.push({
    type: 'decision_started',
    model: `${model.provider}:${model.modelId}`,
    votes,
    retries,
    minConfidence,
    cacheKey: cacheable ? cacheKey : null,
    at: createdAt,
  });
  // The model's answer once there is one: every result from then on carries it.
  const answered: { proposal?: DecisionProposal<z.infer<Schema>> } = {};

  const decisionOf = (
    status: DecisionOutcome,
    value: z.infer<Schema>,
    confidence: number,
    reason: string | undefined,
  ): Decision<z.infer<Schema>> => ({
    id,
    status,
    value,
    confidence,
    source: SOURCES[status],
    reason,
    proposal: answered.proposal,
    calls: totals.calls,
    usage: { inputTokens: totals.inputTokens, outputTokens: totals.outputTokens },
    costUsd: totals.cost,
    events,
  });

  const finish = async (
    status: DecisionOutcome,
    value: z.infer<Schema>,
    confidence: number,
    reason: string | undefined,
  ): Promise<Decision<z.infer<Schema>>> => {
    const decision = decisionOf(status, value, confidence, reason);
    if (!store || status === 'cached') return decision;
    const record: DecisionRecord = {
      id,
      kind: options.kind ?? 'decision',
      status: status === 'review' ? 'review' : status === 'fallback' ? 'fallback' : 'decided',
      instructions,
      input: input ?? null,
      value: value ?? null,
      confidence,
      reason: reason ?? null,
      choices: choicesOf(jsonSchema),
      cacheKey: cacheable || status === 'decided' ? cacheKey : null,
      runId: options.runId ?? null,
      startedRunId: null,
      onResolve: options.onResolve ?? null,
      events,
      createdAt,
      decidedAt: status === 'review' ? null : clock.now(),
      decidedBy: null,
    };
    try {
      await store.decisions.save(record);
    } catch (error) {
      if (status !== 'review') return decision;
      // A review item that is not durable would wait for nobody: fall back instead.
      const why = `the review item could not be saved: ${messageOf(error)}`;
      events.push({
        type: 'decision_fallback',
        reason: why,
        confidence: answered.proposal?.confidence ?? 0,
      });
      return decisionOf('fallback', options.fallback, 0, why);
    }
    return decision;
  };

  if (cacheable) {
    const hit = await cache.get(cacheKey).catch(() => undefined);
    const parsed = hit ? schema.safeParse(hit.value) : undefined;
    if (hit && parsed?.success && hit.confidence >= minConfidence) {
      events.push({
        type: 'decision_cache_hit',
        cacheKey,
        decisionId: hit.decisionId,
        value: parsed.data ?? null,
        confidence: hit.confidence,
      });
      return finish('cached', parsed.data, hit.confidence, undefined);
    }
  }

  const system = `${instructions}\n\n${ANSWER_HINT}\n${JSON.stringify(jsonSchema)}`;
  const { $schema: _dialect, ...valueSchema } = jsonSchema;
  const responseSchema = {
    name: 'decision',
    schema: {
      type: 'object',
      properties: {
        value: valueSchema,
        confidence: { type: 'number', minimum: 0, maximum: 1 },
        reason: { type: 'string' },
      },
      required: ['value', 'confidence'],
      additionalProperties: false,
    },
  };
  const inputText = typeof input === 'string' ? input : canonicalJson(input ?? null);
  const ballots: Ballot<z.infer<Schema>>[] = [];
  let lastError = 'no attempt was made';
  let attempts = 0;
  for (let vote = 1; vote <= votes; vote++) {
    const messages: Message[] = [
      { role: 'user', parts: [{ type: 'text', text: inputText, provenance: UNTRUSTED_INPUT }] },
    ];
    let ballot: Ballot<z.infer<Schema>> | undefined;
    let modelFailures = 0;
    for (let attempt = 1; attempt <= retries + 1 && !ballot; attempt++) {
      if (signal?.aborted) break;
      attempts += 1;
      const startedAt = clock.now();
      let output = '';
      let usage: ModelUsage | null = null;
      let cost: number | null = null;
      let error: string | undefined;
      let failure: ModelCallError | undefined;
      try {
        const response = await model.doGenerate(
          {
            system,
            messages: [...messages],
            tools: [],
            temperature,
            seed: vote,
            maxOutputTokens: options.maxOutputTokens,
            responseSchema,
          },
          { signal },
        );
        checkUsage(response.usage);
        totals.calls += 1;
        usage = response.usage;
        cost = costOf(response.usage, model.price);
        totals.inputTokens += usage.inputTokens;
        totals.outputTokens += usage.outputTokens;
        totals.cost = totals.cost === null || cost === null ? null : totals.cost + cost;
        output = response.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
        const checked = check(schema, output);
        if (checked.ok) ballot = checked.ballot;
        else error = checked.error;
      } catch (fault) {
        totals.calls += 1;
        failure = modelCallFailure(fault);
        error = `the model call failed (${failure.type}): ${failure.message}`;
      }
      events.push({
        type: 'decision_attempt',
        vote,
        attempt,
        output,
        usage,
        costUsd: cost,
        latencyMs: clock.now() - startedAt,
        ...(error === undefined ? {} : { error }),
        ...(failure ? { errorType: failure.type, retryAfterMs: failure.retryAfterMs } : {}),
      });
      if (error === undefined) continue;
      lastError = error;
      if (failure) {
        // The engine's model-retry policy: only a retryable failure is tried again, after
        // its backoff and never sooner than the provider's retry-after. Nothing is fed back:
        // the model never saw the request.
        modelFailures += 1;
        if (!failure.retryable || modelFailures >= modelRetry.maxAttempts) break;
        if (attempt > retries) break;
        try {
          await sleep(modelRetryDelay(modelRetry, modelFailures, failure.retryAfterMs), {
            signal,
          });
        } catch {
          break;
        }
        continue;
      }
      messages.push(
        { role: 'assistant', parts: [{ type: 'text', text: output, provenance: MODEL_OUTPUT }] },
        {
          role: 'user',
          parts: [
            {
              type: 'text',
              text: `Your answer was rejected: ${error}\nAnswer again with only the JSON object.`,
              provenance: TRUSTED_RUNTIME,
            },
          ],
        },
      );
    }
    events.push({
      type: 'decision_vote',
      vote,
      value: ballot ? ballot.value : null,
      confidence: ballot?.confidence ?? 0,
    });
    if (ballot) ballots.push(ballot);
  }

  if (ballots.length === 0) {
    const reason = `no valid answer after ${attempts} attempt(s): ${lastError}`;
    events.push({ type: 'decision_fallback', reason, confidence: 0 });
    return finish('fallback', options.fallback, 0, reason);
  }
  const { value, confidence, agreeing, reasoning } = majority(ballots, votes);
  answered.proposal = { value, confidence, reasoning };
  events.push({
    type: 'decision_made',
    value,
    confidence,
    agreement: [agreeing, votes],
    ...(reasoning === undefined ? {} : { reasoning }),
  });
  if (confidence >= minConfidence) {
    if (cacheable) await cache.set(cacheKey, { decisionId: id, value, confidence }).catch(noop);
    return finish('decided', value, confidence, undefined);
  }
  const low = lowConfidence({ confidence, minConfidence });
  if (onLowConfidence === 'review' && store) {
    events.push({
      type: 'decision_review_requested',
      confidence,
      minConfidence,
      fallback: options.fallback ?? null,
    });
    return finish('review', options.fallback, 0, low);
  }
  const reason = onLowConfidence === 'review' ? `${low}; no store to keep a review item` : low;
  // The model's confidence stays in the journal (and in `proposal`); the fallback has none.
  events.push({ type: 'decision_fallback', reason, confidence });
  return finish('fallback', options.fallback, 0, reason);
}

type Checked<Value> = { ok: true; ballot: Ballot<Value> } | { ok: false; error: string };

// Made at the first decision checked, not when Keel is imported.
const answerShape = once(() =>
  z.object({
    value: z.unknown(),
    confidence: z.number().min(0).max(1),
    reason: z.string().optional(),
  }),
);

function check<Schema extends z.ZodType>(schema: Schema, output: string): Checked<z.infer<Schema>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripFence(output));
  } catch (error) {
    return { ok: false, error: `not valid JSON (${messageOf(error)}): ${truncate(output, 200)}` };
  }
  const answer = answerShape().safeParse(parsed);
  if (!answer.success || !('value' in (parsed as object))) {
    return {
      ok: false,
      error: `expected {"value": ..., "confidence": 0..1}: ${answer.success ? 'value is missing' : z.prettifyError(answer.error)}`,
    };
  }
  const value = schema.safeParse(answer.data.value);
  if (!value.success) {
    return { ok: false, error: `value does not match the schema: ${z.prettifyError(value.error)}` };
  }
  const reasoning = answer.data.reason?.trim();
  return {
    ok: true,
    ballot: {
      value: value.data,
      confidence: answer.data.confidence,
      reasoning: reasoning ? truncate(reasoning, MAX_REASONING_CHARS) : undefined,
    },
  };
}

/** The model's reasoning kept, at most (a reviewer reads it; the journal keeps it). */
const MAX_REASONING_CHARS = 1_000;

/**
 * The most common value (first seen wins a tie); confidence scaled by the share that agrees;
 * the reasoning of the first ballot that agrees.
 */
function majority<Value>(
  ballots: readonly Ballot<Value>[],
  votes: number,
): { value: Value; confidence: number; agreeing: number; reasoning: string | undefined } {
  const groups = new Map<string, { value: Value; agreeing: Ballot<Value>[] }>();
  for (const ballot of ballots) {
    const key = canonicalJson(ballot.value ?? null);
    const group = groups.get(key) ?? { value: ballot.value, agreeing: [] };
    group.agreeing.push(ballot);
    groups.set(key, group);
  }
  let best: { value: Value; agreeing: Ballot<Value>[] } | undefined;
  for (const group of groups.values()) {
    if (!best || group.agreeing.length > best.agreeing.length) best = group;
  }
  const winner = best ?? { value: ballots[0]?.value as Value, agreeing: [] };
  const agreeing = winner.agreeing.length;
  const mean =
    agreeing === 0
      ? 0
      : winner.agreeing.reduce((sum, ballot) => sum + ballot.confidence, 0) / agreeing;
  // Rounded so that agreeing votes of 0.8 give 0.8, not 0.8000000000000002.
  const confidence = Math.round(((mean * agreeing) / votes) * 1e9) / 1e9;
  const reasoning = winner.agreeing.find((ballot) => ballot.reasoning)?.reasoning;
  return { value: winner.value, confidence, agreeing, reasoning };
}

/** Strings trimmed with whitespace runs collapsed; objects canonical (sorted keys). */
function normalise(value: unknown): unknown {
  if (typeof value === 'string') return value.trim().replace(/\s+/g, ' ');
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, normalise(entry)]));
  }
  return value ?? null;
}

function choicesOf(jsonSchema: Record<string, unknown>): unknown[] | null {
  return Array.isArray(jsonSchema.enum) ? [...(jsonSchema.enum as unknown[])] : null;
}

function modelOf(options: DecisionOptions<z.ZodType>): ModelAdapterV1 {
  if (options.model) return options.model;
  if (options.tiers) return options.tiers.model(options.tier ?? 'fast');
  throw new KeelError('invalid_config', 'decide: "model" or "tiers" is required');
}

function checkOptions(
  options: DecisionOptions<z.ZodType>,
  { retries, minConfidence, votes }: { retries: number; minConfidence: number; votes: number },
): void {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_config', `decide: "${field}" ${problem}`);
  };
  if (typeof options.schema?.safeParse !== 'function') fail('schema', 'must be a zod schema');
  if (typeof options.instructions !== 'string' || options.instructions.trim() === '') {
    fail('instructions', 'must be a non-empty string');
  }
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    fail('retries', 'must be an integer from 0 to 10');
  }
  if (!Number.isInteger(votes) || votes < 1 || votes > 25) {
    fail('votes', 'must be an integer from 1 to 25');
  }
  if (!(minConfidence >= 0 && minConfidence <= 1)) fail('minConfidence', 'must be from 0 to 1');
  if (!LOW_CONFIDENCE_ACTIONS.includes(options.onLowConfidence ?? 'fallback')) {
    fail('onLowConfidence', `must be one of ${LOW_CONFIDENCE_ACTIONS.join(', ')}`);
  }
  if (!options.schema.safeParse(options.fallback).success) {
    fail('fallback', 'must match the schema');
  }
  const { maxAttempts, initialDelayMs, maxDelayMs } = options.modelRetry ?? {};
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    fail('modelRetry.maxAttempts', 'must be an integer of at least 1');
  }
  for (const [field, value] of [
    ['initialDelayMs', initialDelayMs],
    ['maxDelayMs', maxDelayMs],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      fail(`modelRetry.${field}`, 'must be a number of milliseconds, 0 or more');
    }
  }
}

function stripFence(text: string): string {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  return fenced?.[1] ?? text;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
