import { z } from 'zod';
import type { Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { TOOL_ERROR_TYPES, resolveLimits, type RunLimits } from '../journal/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import { assertionSchema, type EvalAssertion } from './assertions.js';
import type { ToolFixture } from './tool-fixtures.js';

/** What a run's gated calls get in an evaluation: a scripted human who approves or denies. */
export const APPROVAL_ANSWERS = ['approve', 'deny'] as const;
/** What a run's gated calls get in an evaluation. */
export type ApprovalAnswer = (typeof APPROVAL_ANSWERS)[number];

/** One case: a task for an agent and the properties its run must have. */
export interface EvalCase {
  readonly name: string;
  readonly task: string;
  /** The agent's name (default: the suite's). */
  readonly agent?: string | undefined;
  readonly expect: readonly EvalAssertion[];
  /** Results for calls of this case, tried before the suite's. */
  readonly fixtures?: readonly ToolFixture[] | undefined;
  /** `false`: the suite's fixtures do not apply to this case (default true). */
  readonly suiteFixtures?: boolean | undefined;
  /** `read` tools without a fixture run live (default: the suite's, else false). */
  readonly liveReads?: boolean | undefined;
  /** What a call held for a human gets (default: the suite's, else `deny`). */
  readonly approvals?: ApprovalAnswer | undefined;
  /** Tighter limits for this case's runs. */
  readonly limits?: Partial<RunLimits> | undefined;
  readonly tags?: readonly string[] | undefined;
}

/** What `defineSuite` takes. */
export interface SuiteDefinition {
  /** Shown in reports and stored with eval runs (default: the suite file's name). */
  readonly name?: string | undefined;
  /** The agent every case runs unless it names another. */
  readonly agent?: string | undefined;
  /** Agents this suite brings (found before the ones the CLI loads). */
  readonly agents?: readonly Agent[] | undefined;
  readonly cases: readonly EvalCase[];
  /** pass^k: each case runs k times with different seeds and passes only if all k pass. */
  readonly repeat?: number | undefined;
  /** The first attempt's seed; attempt i uses seed + i. Default 1. */
  readonly seed?: number | undefined;
  /** Assertions every case gets, before its own. */
  readonly expect?: readonly EvalAssertion[] | undefined;
  readonly fixtures?: readonly ToolFixture[] | undefined;
  readonly liveReads?: boolean | undefined;
  readonly approvals?: ApprovalAnswer | undefined;
  readonly limits?: Partial<RunLimits> | undefined;
  /** The model `llm-rubric` assertions are judged by, unless one names its own. */
  readonly judge?: ModelAdapterV1 | string | undefined;
}

const marker = Symbol.for('keel.eval_suite');

/** A validated suite. */
export interface EvalSuite extends SuiteDefinition {
  readonly [marker]: true;
  readonly repeat: number;
  readonly seed: number;
}

const fixtureSchema = z.strictObject({
  tool: z.string().min(1),
  args: z.record(z.string(), z.unknown()).optional(),
  result: z.unknown().optional(),
  error: z
    .strictObject({
      type: z.enum(TOOL_ERROR_TYPES),
      message: z.string(),
      retryAfterMs: z.number().nonnegative().optional(),
    })
    .optional(),
  respond: z.custom<(input: unknown) => unknown>((value) => typeof value === 'function').optional(),
});

const limitsSchema = z.custom<Partial<RunLimits>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'must be an object of run limits',
);

const caseSchema = z.strictObject({
  name: z.string().trim().min(1),
  task: z.string().trim().min(1),
  agent: z.string().min(1).optional(),
  expect: z.array(assertionSchema),
  fixtures: z.array(fixtureSchema).optional(),
  suiteFixtures: z.boolean().optional(),
  liveReads: z.boolean().optional(),
  approvals: z.enum(APPROVAL_ANSWERS).optional(),
  limits: limitsSchema.optional(),
  tags: z.array(z.string()).optional(),
});

const suiteSchema = z.strictObject({
  name: z.string().trim().min(1).optional(),
  agent: z.string().min(1).optional(),
  agents: z
    .array(
      z.custom<Agent>(
        (value) =>
          typeof value === 'object' &&
          value !== null &&
          typeof (value as Agent).name === 'string' &&
          typeof (value as Agent).withModel === 'function',
        'must be an agent (defineAgent)',
      ),
    )
    .optional(),
  cases: z.array(caseSchema).min(1),
  repeat: z.number().int().min(1).max(100).optional(),
  seed: z.number().int().optional(),
  expect: z.array(assertionSchema).optional(),
  fixtures: z.array(fixtureSchema).optional(),
  liveReads: z.boolean().optional(),
  approvals: z.enum(APPROVAL_ANSWERS).optional(),
  limits: limitsSchema.optional(),
  judge: z
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
});

/**
 * Define an evaluation suite: cases (a task and the properties its run must have), the tool
 * fixtures that stand in for side effects, and how many times each case runs (pass^k).
 * Checked at once: a bad field is an `invalid_definition` error naming it.
 *
 * ```ts
 * export default defineSuite({
 *   agent: 'refunds',
 *   repeat: 4,
 *   cases: [
 *     { name: 'status query', task: 'Where is order ORD-1001?', expect: [toolCalls({ max: 2 }), status('succeeded')] },
 *   ],
 * });
 * ```
 */
export function defineSuite(definition: SuiteDefinition): EvalSuite {
  const parsed = suiteSchema.safeParse(definition);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeelError(
      'invalid_definition',
      `defineSuite: ${fieldPath(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const names = new Set<string>();
  definition.cases.forEach((evalCase, index) => {
    if (names.has(evalCase.name)) {
      throw new KeelError(
        'invalid_definition',
        `defineSuite: cases[${index}].name: "${evalCase.name}" is used by an earlier case`,
      );
    }
    names.add(evalCase.name);
    if (evalCase.agent === undefined && definition.agent === undefined) {
      throw new KeelError(
        'invalid_definition',
        `defineSuite: cases[${index}].agent: the case names no agent and the suite has no default agent`,
      );
    }
    const limits = evalCase.limits ?? definition.limits;
    if (limits) {
      try {
        resolveLimits(`defineSuite: cases[${index}].limits`, limits);
      } catch (error) {
        throw new KeelError('invalid_definition', (error as Error).message, { cause: error });
      }
    }
    [...(definition.expect ?? []), ...evalCase.expect].forEach((assertion, at) => {
      if (needsJudge(assertion) && definition.judge === undefined) {
        const field =
          at < (definition.expect?.length ?? 0)
            ? `expect[${at}]`
            : `cases[${index}].expect[${at - (definition.expect?.length ?? 0)}]`;
        throw new KeelError(
          'invalid_definition',
          `defineSuite: ${field}.model: an llm-rubric needs a judge model (set \`judge\` on the suite or \`model\` on the assertion)`,
        );
      }
    });
  });
  return Object.freeze({
    ...definition,
    [marker]: true as const,
    repeat: definition.repeat ?? 1,
    seed: definition.seed ?? 1,
  });
}

/** Whether a value is a suite made by `defineSuite` (also from another copy of Keel). */
export function isEvalSuite(value: unknown): value is EvalSuite {
  return typeof value === 'object' && value !== null && marker in value;
}

function needsJudge(assertion: EvalAssertion): boolean {
  if (assertion.type === 'not') return needsJudge(assertion.assertion);
  return assertion.type === 'llm-rubric' && assertion.model === undefined;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    text += typeof part === 'number' ? `[${part}]` : `${text === '' ? '' : '.'}${String(part)}`;
  }
  return text === '' ? '(suite)' : text;
}
