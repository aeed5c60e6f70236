import { z } from 'zod';
import { RUN_STATUSES, type RunReason, type RunStatus } from '../journal/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import type { RunView } from './run-view.js';

/** What a custom check returns: pass or fail, or that with a message. */
export type CheckOutcome = boolean | { readonly pass: boolean; readonly message?: string };

/**
 * One property of a run, judged from its journal. Plain data (except `javascript`'s function
 * and `llm-rubric`'s model adapter) so suites can be JSON and stored runs re-scored. Names
 * follow promptfoo where they overlap (`contains`, `icontains`, `regex`, `is-json`,
 * `javascript`, `llm-rubric`, `cost`, `latency`).
 */
export type EvalAssertion =
  | {
      readonly type: 'status';
      readonly status: RunStatus | readonly RunStatus[];
      readonly reason?: RunReason['type'] | undefined;
    }
  | { readonly type: 'contains'; readonly value: string }
  | { readonly type: 'icontains'; readonly value: string }
  | { readonly type: 'regex'; readonly pattern: string; readonly flags?: string | undefined }
  /** The output is JSON (and matches `schema`, a JSON Schema, when given). */
  | { readonly type: 'is-json'; readonly schema?: Record<string, unknown> | undefined }
  | {
      /**
       * Calls of `tool` (whose arguments contain `args`, when given) number between `min`
       * (default 1) and `max`. `executed` counts only calls that reached execution (ran, or
       * were served or suppressed in place of running) rather than every call the model asked.
       */
      readonly type: 'tool-called';
      readonly tool: string;
      readonly args?: Record<string, unknown> | undefined;
      readonly min?: number | undefined;
      readonly max?: number | undefined;
      readonly executed?: boolean | undefined;
    }
  | {
      readonly type: 'tool-calls';
      readonly min?: number | undefined;
      readonly max?: number | undefined;
    }
  | {
      /**
       * The tools called, in order: `exact` (this sequence), `ordered` (these appear in this
       * order, others may come between), `subset` (each is called, any order), `allowed`
       * (no tool outside this set).
       */
      readonly type: 'trajectory';
      readonly tools: readonly string[];
      readonly mode: TrajectoryMode;
    }
  | { readonly type: 'steps'; readonly min?: number | undefined; readonly max?: number | undefined }
  | { readonly type: 'tokens'; readonly max: number }
  | { readonly type: 'cost'; readonly maxUsd: number }
  | { readonly type: 'latency'; readonly maxMs: number }
  | {
      /** Every decision made in the run has at least `minConfidence` (and review / value as given). */
      readonly type: 'decision';
      readonly minConfidence?: number | undefined;
      readonly reviewRequested?: boolean | undefined;
      readonly value?: unknown;
    }
  | {
      /**
       * The run escalated (ended `escalated`, or a decision asked for a human review). With
       * `belowConfidence`: it escalated exactly when a decision's confidence fell below it.
       */
      readonly type: 'escalation';
      readonly belowConfidence?: number | undefined;
    }
  | {
      readonly type: 'approval-requested';
      readonly tool?: string | undefined;
      readonly min?: number | undefined;
      readonly max?: number | undefined;
    }
  | {
      readonly type: 'guard-verdict';
      readonly verdict: 'allow' | 'confirm' | 'deny';
      readonly tool?: string | undefined;
      readonly rule?: string | undefined;
      readonly min?: number | undefined;
      readonly max?: number | undefined;
    }
  | {
      /** Calls kept from running (a side effect with no fixture). */
      readonly type: 'suppressed';
      readonly tool?: string | undefined;
      readonly min?: number | undefined;
      readonly max?: number | undefined;
    }
  | {
      /**
       * No call that reached execution carried a destination seen only in untrusted content
       * or an exfiltration-shaped argument (the output monitor's flags).
       */
      readonly type: 'no-untrusted-sink';
    }
  | {
      readonly type: 'javascript';
      readonly name?: string | undefined;
      readonly check: (run: RunView) => CheckOutcome | Promise<CheckOutcome>;
    }
  | {
      /**
       * A model grades the output against `rubric` (score 0..1, passing at `threshold`,
       * default 0.5). Its cost is the judge's, counted apart from the agent's.
       */
      readonly type: 'llm-rubric';
      readonly rubric: string;
      readonly model?: ModelAdapterV1 | string | undefined;
      readonly threshold?: number | undefined;
    }
  | { readonly type: 'not'; readonly assertion: EvalAssertion };

/** How `trajectory` compares the tools called with the list. */
export const TRAJECTORY_MODES = ['exact', 'ordered', 'subset', 'allowed'] as const;
/** How `trajectory` compares the tools called with the list. */
export type TrajectoryMode = (typeof TRAJECTORY_MODES)[number];

/** The assertion kinds. */
export type EvalAssertionType = EvalAssertion['type'];

const count = z.number().int().nonnegative();
const optionalCount = count.optional();
const statusSchema = z.enum(RUN_STATUSES);

/** The schema suites are checked against at definition time (errors name the field). */
export const assertionSchema: z.ZodType<EvalAssertion> = z.lazy(() =>
  z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('status'),
      status: z.union([statusSchema, z.array(statusSchema).min(1)]),
      reason: z
        .enum([
          'final_answer',
          'limit',
          'model_error',
          'worker_lost',
          'cancelled',
          'escalation',
          'internal',
          'out_of_scope',
        ])
        .optional(),
    }),
    z.strictObject({ type: z.literal('contains'), value: z.string().min(1) }),
    z.strictObject({ type: z.literal('icontains'), value: z.string().min(1) }),
    z.strictObject({
      type: z.literal('regex'),
      pattern: z.string().min(1).refine(validPattern, 'not a valid regular expression'),
      flags: z
        .string()
        .regex(/^[dgimsuvy]*$/)
        .optional(),
    }),
    z.strictObject({
      type: z.literal('is-json'),
      schema: z.record(z.string(), z.unknown()).optional(),
    }),
    z.strictObject({
      type: z.literal('tool-called'),
      tool: z.string().min(1),
      args: z.record(z.string(), z.unknown()).optional(),
      min: optionalCount,
      max: optionalCount,
      executed: z.boolean().optional(),
    }),
    z.strictObject({ type: z.literal('tool-calls'), min: optionalCount, max: optionalCount }),
    z.strictObject({
      type: z.literal('trajectory'),
      tools: z.array(z.string().min(1)),
      mode: z.enum(TRAJECTORY_MODES),
    }),
    z.strictObject({ type: z.literal('steps'), min: optionalCount, max: optionalCount }),
    z.strictObject({ type: z.literal('tokens'), max: count }),
    z.strictObject({ type: z.literal('cost'), maxUsd: z.number().nonnegative() }),
    z.strictObject({ type: z.literal('latency'), maxMs: z.number().nonnegative() }),
    z.strictObject({
      type: z.literal('decision'),
      minConfidence: z.number().min(0).max(1).optional(),
      reviewRequested: z.boolean().optional(),
      value: z.unknown().optional(),
    }),
    z.strictObject({
      type: z.literal('escalation'),
      belowConfidence: z.number().min(0).max(1).optional(),
    }),
    z.strictObject({
      type: z.literal('approval-requested'),
      tool: z.string().min(1).optional(),
      min: optionalCount,
      max: optionalCount,
    }),
    z.strictObject({
      type: z.literal('guard-verdict'),
      verdict: z.enum(['allow', 'confirm', 'deny']),
      tool: z.string().min(1).optional(),
      rule: z.string().min(1).optional(),
      min: optionalCount,
      max: optionalCount,
    }),
    z.strictObject({
      type: z.literal('suppressed'),
      tool: z.string().min(1).optional(),
      min: optionalCount,
      max: optionalCount,
    }),
    z.strictObject({ type: z.literal('no-untrusted-sink') }),
    z.strictObject({
      type: z.literal('javascript'),
      name: z.string().optional(),
      check: z.custom<(run: RunView) => CheckOutcome>(
        (value) => typeof value === 'function',
        'must be a function of the run',
      ),
    }),
    z.strictObject({
      type: z.literal('llm-rubric'),
      rubric: z.string().min(1),
      model: z
        .union([
          z.string().min(1),
          z.custom<ModelAdapterV1>(
            (value) =>
              typeof value === 'object' &&
              value !== null &&
              typeof (value as ModelAdapterV1).doGenerate === 'function',
            'must be a model string or a model adapter',
          ),
        ])
        .optional(),
      threshold: z.number().min(0).max(1).optional(),
    }),
    z.strictObject({ type: z.literal('not'), assertion: assertionSchema }),
  ]),
);

function validPattern(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/**
 * The run ended with this status (one of these), and this reason type when given.
 *
 * ```ts
 * expect: [status('succeeded')]
 * ```
 */
export function status(
  expected: RunStatus | readonly RunStatus[],
  options: { reason?: RunReason['type'] } = {},
): EvalAssertion {
  return { type: 'status', status: expected, ...options };
}

/** The output contains `value` (case-sensitive). */
export function contains(value: string): EvalAssertion {
  return { type: 'contains', value };
}

/** The output contains `value`, ignoring case. */
export function icontains(value: string): EvalAssertion {
  return { type: 'icontains', value };
}

/**
 * The output matches the regular expression.
 *
 * ```ts
 * expect: [regex(/RF-\d+/)]
 * ```
 */
export function regex(pattern: RegExp | string): EvalAssertion {
  return typeof pattern === 'string'
    ? { type: 'regex', pattern }
    : {
        type: 'regex',
        pattern: pattern.source,
        ...(pattern.flags ? { flags: pattern.flags } : {}),
      };
}

/** The output matches the regular expression (the same as `regex`). */
export const outputMatches = regex;

/**
 * The output is JSON; with a schema (JSON Schema, or a zod schema), it matches it.
 *
 * ```ts
 * expect: [isJson(z.object({ refundId: z.string() }))]
 * ```
 */
export function isJson(schema?: Record<string, unknown> | z.ZodType): EvalAssertion {
  if (schema === undefined) return { type: 'is-json' };
  const json =
    schema instanceof z.ZodType ? (z.toJSONSchema(schema) as Record<string, unknown>) : schema;
  return { type: 'is-json', schema: json };
}

/**
 * `tool` was called (at least once, or between `min` and `max` times), with arguments that
 * contain `args` when given.
 *
 * ```ts
 * expect: [toolCalled('issue_refund', { args: { orderId: 'ORD-1001' }, max: 1 })]
 * ```
 */
export function toolCalled(
  tool: string,
  options: {
    args?: Record<string, unknown>;
    min?: number;
    max?: number;
    times?: number;
    executed?: boolean;
  } = {},
): EvalAssertion {
  const { times, ...rest } = options;
  return {
    type: 'tool-called',
    tool,
    ...rest,
    ...(times === undefined ? {} : { min: times, max: times }),
  };
}

/** `tool` was never called (with `executed`: never reached execution). */
export function toolNotCalled(tool: string, options: { executed?: boolean } = {}): EvalAssertion {
  return { type: 'tool-called', tool, min: 0, max: 0, ...options };
}

/** The number of tool calls (all tools) is within bounds. */
export function toolCalls(bounds: { min?: number; max?: number }): EvalAssertion {
  return { type: 'tool-calls', ...bounds };
}

/**
 * The tools called, compared with a list (`exact` by default).
 *
 * ```ts
 * expect: [trajectory(['lookup_customer', 'lookup_order', 'issue_refund'], { mode: 'ordered' })]
 * ```
 */
export function trajectory(
  tools: readonly string[],
  { mode = 'exact' }: { mode?: TrajectoryMode } = {},
): EvalAssertion {
  return { type: 'trajectory', tools, mode };
}

/** The run took a number of steps (model calls) within bounds. */
export function steps(bounds: { min?: number; max?: number }): EvalAssertion {
  return { type: 'steps', ...bounds };
}

/** The run used at most this many tokens (input + output). */
export function tokens(max: number): EvalAssertion {
  return { type: 'tokens', max };
}

/** The run cost at most this much (the agent's model calls; a judge's cost is apart). */
export function cost(maxUsd: number): EvalAssertion {
  return { type: 'cost', maxUsd };
}

/** The run took at most this long, from its first journal entry to its last. */
export function latency(maxMs: number): EvalAssertion {
  return { type: 'latency', maxMs };
}

/** Every decision made in the run meets these properties. */
export function decision(options: {
  minConfidence?: number;
  reviewRequested?: boolean;
  value?: unknown;
}): EvalAssertion {
  return { type: 'decision', ...options };
}

/**
 * The run escalated to a human. `when: 'confidence < 0.6'` (or `belowConfidence: 0.6`): it
 * escalated exactly when a decision's confidence fell below 0.6.
 *
 * ```ts
 * expect: [escalated({ when: 'confidence < 0.6' })]
 * ```
 */
export function escalated(
  options: { when?: string; belowConfidence?: number } = {},
): EvalAssertion {
  let below = options.belowConfidence;
  if (options.when !== undefined) {
    const match = /^\s*confidence\s*<\s*(\d*\.?\d+)\s*$/.exec(options.when);
    // Left as NaN so the definition check names the field.
    below = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  }
  return below === undefined
    ? { type: 'escalation' }
    : { type: 'escalation', belowConfidence: below };
}

/** A human's approval was requested (for `tool`, between `min` (default 1) and `max` times). */
export function approvalRequested(
  options: { tool?: string; min?: number; max?: number } = {},
): EvalAssertion {
  return { type: 'approval-requested', ...options };
}

/** The guard gave this verdict (on `tool`, by `rule`) at least once, or within bounds. */
export function guardVerdict(
  verdict: 'allow' | 'confirm' | 'deny',
  options: { tool?: string; rule?: string; min?: number; max?: number } = {},
): EvalAssertion {
  return { type: 'guard-verdict', verdict, ...options };
}

/** Calls were suppressed (side effects with no fixture): at least one, or within bounds. */
export function suppressed(
  options: { tool?: string; min?: number; max?: number } = {},
): EvalAssertion {
  return { type: 'suppressed', ...options };
}

/** No call that reached execution sent data to a destination seen only in untrusted content. */
export function noUntrustedSink(): EvalAssertion {
  return { type: 'no-untrusted-sink' };
}

/**
 * A custom check of the run.
 *
 * ```ts
 * expect: [javascript((run) => run.calls.length <= 3, 'three calls at most')]
 * ```
 */
export function javascript(
  check: (run: RunView) => CheckOutcome | Promise<CheckOutcome>,
  name?: string,
): EvalAssertion {
  return { type: 'javascript', check, ...(name === undefined ? {} : { name }) };
}

/**
 * A model grades the output against a rubric (the suite's `judge` unless `model` is given).
 *
 * ```ts
 * expect: [llmRubric('apologises and gives the refund id', { threshold: 0.7 })]
 * ```
 */
export function llmRubric(
  rubric: string,
  options: { model?: ModelAdapterV1 | string; threshold?: number } = {},
): EvalAssertion {
  return { type: 'llm-rubric', rubric, ...options };
}

/** The opposite of an assertion. */
export function not(assertion: EvalAssertion): EvalAssertion {
  return { type: 'not', assertion };
}
