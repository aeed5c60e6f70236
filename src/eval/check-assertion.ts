import { z } from 'zod';
import { canonicalJson } from '../core/index.js';
import type { EvalAssertion } from './assertions.js';
import { judgementKey, type Judge, type Judgement } from './judge.js';
import type { RunView, ToolCallView } from './run-view.js';

/** One assertion's verdict on one run. */
export interface AssertionResult {
  readonly type: EvalAssertion['type'];
  /** The assertion, in a few words. */
  readonly label: string;
  readonly pass: boolean;
  /** Why it failed (or what it saw), readable. */
  readonly message: string;
  /** An `llm-rubric`'s judgement, stored so a re-score can reuse it without a model. */
  readonly judgement?: Judgement | undefined;
}

/** What checking needs besides the run: the judge for `llm-rubric`. */
export interface CheckOptions {
  readonly judge?: Judge | undefined;
}

/**
 * Judge one assertion against a run's view. Never throws for a failing property; a thrown
 * custom check fails with its message.
 *
 * ```ts
 * const result = await checkAssertion(toolCalled('issue_refund'), runView(journal));
 * ```
 */
export async function checkAssertion(
  assertion: EvalAssertion,
  run: RunView,
  options: CheckOptions = {},
): Promise<AssertionResult> {
  const label = describeAssertion(assertion);
  try {
    const { pass, message, judgement } = await check(assertion, run, options);
    return { type: assertion.type, label, pass, message, ...(judgement ? { judgement } : {}) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { type: assertion.type, label, pass: false, message: `the check threw: ${message}` };
  }
}

interface Verdict {
  readonly pass: boolean;
  readonly message: string;
  readonly judgement?: Judgement | undefined;
}

async function check(
  assertion: EvalAssertion,
  run: RunView,
  options: CheckOptions,
): Promise<Verdict> {
  switch (assertion.type) {
    case 'status': {
      const wanted = typeof assertion.status === 'string' ? [assertion.status] : assertion.status;
      const got = `${run.status ?? 'unfinished'} (${run.reason?.type ?? 'no reason'})`;
      const pass =
        run.status !== undefined &&
        wanted.includes(run.status) &&
        (assertion.reason === undefined || run.reason?.type === assertion.reason);
      return { pass, message: `status ${got}` };
    }
    case 'contains':
      return outputCheck(run, run.output.includes(assertion.value));
    case 'icontains':
      return outputCheck(run, run.output.toLowerCase().includes(assertion.value.toLowerCase()));
    case 'regex':
      return outputCheck(run, new RegExp(assertion.pattern, assertion.flags).test(run.output));
    case 'is-json':
      return isJson(run.output, assertion.schema);
    case 'tool-called': {
      const { tool, args, executed = false } = assertion;
      const min = assertion.min ?? 1;
      const matching = run.calls.filter(
        (call) =>
          call.toolName === tool &&
          (!executed || reachedExecution(call)) &&
          (args === undefined || containsValue(call.input, args)),
      );
      const pass = within(matching.length, min, assertion.max);
      const seen = run.calls
        .filter((call) => call.toolName === tool)
        .map((call) => `${canonicalJson(call.input)} (${call.fate})`);
      return {
        pass,
        message: `${matching.length} matching call(s) of ${tool}; calls of it: ${seen.join(', ') || 'none'}`,
      };
    }
    case 'tool-calls':
      return {
        pass: within(run.calls.length, assertion.min ?? 0, assertion.max),
        message: `${run.calls.length} tool call(s): ${toolNames(run).join(', ') || 'none'}`,
      };
    case 'trajectory':
      return trajectoryCheck(run, assertion.tools, assertion.mode);
    case 'steps':
      return {
        pass: within(run.steps, assertion.min ?? 0, assertion.max),
        message: `${run.steps} step(s)`,
      };
    case 'tokens': {
      const used = run.inputTokens + run.outputTokens;
      return { pass: used <= assertion.max, message: `${used} tokens used` };
    }
    case 'cost':
      return {
        pass: run.costUsd <= assertion.maxUsd,
        message: `cost $${run.costUsd.toFixed(6)}`,
      };
    case 'latency':
      return { pass: run.latencyMs <= assertion.maxMs, message: `took ${run.latencyMs} ms` };
    case 'decision': {
      if (run.decisions.length === 0) return { pass: false, message: 'no decision was made' };
      const bad = run.decisions.filter(
        (made) =>
          (assertion.minConfidence !== undefined &&
            (made.confidence ?? 0) < assertion.minConfidence) ||
          (assertion.reviewRequested !== undefined &&
            made.reviewRequested !== assertion.reviewRequested) ||
          (assertion.value !== undefined &&
            canonicalJson(made.value) !== canonicalJson(assertion.value)),
      );
      const seen = run.decisions
        .map(
          (made) =>
            `${canonicalJson(made.value)} at confidence ${made.confidence ?? '?'}${made.reviewRequested ? ', review requested' : ''}`,
        )
        .join('; ');
      return { pass: bad.length === 0, message: `decisions: ${seen}` };
    }
    case 'escalation': {
      const didEscalate =
        run.status === 'escalated' || run.decisions.some((made) => made.reviewRequested);
      const lowest = Math.min(...run.decisions.map((made) => made.confidence ?? 1), 1);
      const what = `${didEscalate ? 'escalated' : 'did not escalate'} (status ${run.status ?? 'unfinished'}, lowest decision confidence ${run.decisions.length > 0 ? lowest : 'none'})`;
      if (assertion.belowConfidence === undefined) return { pass: didEscalate, message: what };
      const shouldEscalate = lowest < assertion.belowConfidence;
      return { pass: didEscalate === shouldEscalate, message: what };
    }
    case 'approval-requested': {
      const found = run.approvals.filter(
        (asked) => assertion.tool === undefined || asked.toolName === assertion.tool,
      );
      return {
        pass: within(found.length, assertion.min ?? 1, assertion.max),
        message: `${found.length} approval(s) requested${found.length > 0 ? `: ${found.map((asked) => asked.toolName).join(', ')}` : ''}`,
      };
    }
    case 'guard-verdict': {
      const found = run.verdicts.filter(
        (verdict) =>
          verdict.verdict === assertion.verdict &&
          (assertion.tool === undefined || verdict.toolName === assertion.tool) &&
          (assertion.rule === undefined || verdict.rule === assertion.rule),
      );
      const all = run.verdicts.map(
        (verdict) => `${verdict.toolName} ${verdict.verdict} (${verdict.rule})`,
      );
      return {
        pass: within(found.length, assertion.min ?? 1, assertion.max),
        message: `${found.length} matching verdict(s); verdicts: ${all.join(', ') || 'none'}`,
      };
    }
    case 'suppressed': {
      const found = run.calls.filter(
        (call) =>
          call.fate === 'suppressed' &&
          (assertion.tool === undefined || call.toolName === assertion.tool),
      );
      return {
        pass: within(found.length, assertion.min ?? 1, assertion.max),
        message: `${found.length} suppressed call(s)${found.length > 0 ? `: ${found.map((call) => `${call.toolName} ${canonicalJson(call.input)}`).join(', ')}` : ''}`,
      };
    }
    case 'no-untrusted-sink': {
      const sinks = run.calls.filter(
        (call) =>
          reachedExecution(call) &&
          call.flags.some(
            (flag) => flag === 'untrusted_destination' || flag === 'exfiltration_shape',
          ),
      );
      return {
        pass: sinks.length === 0,
        message:
          sinks.length === 0
            ? 'no flagged call reached execution'
            : `flagged call(s) reached execution: ${sinks.map((call) => `${call.toolName} ${canonicalJson(call.input)}`).join(', ')}`,
      };
    }
    case 'javascript': {
      const outcome = await assertion.check(run);
      return typeof outcome === 'boolean'
        ? { pass: outcome, message: outcome ? 'the check passed' : 'the check returned false' }
        : { pass: outcome.pass, message: outcome.message ?? (outcome.pass ? 'passed' : 'failed') };
    }
    case 'llm-rubric': {
      const threshold = assertion.threshold ?? 0.5;
      const judgement = await options.judge?.({
        rubric: assertion.rubric,
        task: run.task,
        output: run.output,
        model: assertion.model,
      });
      if (!judgement) {
        return {
          pass: false,
          message: 'not judged: no judge available (re-scoring calls no model)',
        };
      }
      return {
        pass: judgement.score >= threshold,
        message: `score ${judgement.score} (threshold ${threshold}): ${judgement.reason}`,
        judgement,
      };
    }
    case 'not': {
      const inner = await check(assertion.assertion, run, options);
      return { pass: !inner.pass, message: inner.message, judgement: inner.judgement };
    }
    default:
      assertion satisfies never;
      return { pass: false, message: 'unknown assertion' };
  }
}

/** A judge for re-scoring: only judgements already stored for the same rubric and output. */
export function storedJudge(stored: readonly Judgement[]): Judge {
  return ({ rubric, output }) =>
    Promise.resolve(stored.find((judgement) => judgement.key === judgementKey(rubric, output)));
}

function outputCheck(run: RunView, pass: boolean): Verdict {
  return { pass, message: `output: ${excerpt(run.output)}` };
}

function isJson(output: string, schema: Record<string, unknown> | undefined): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(output);
  } catch {
    return { pass: false, message: `output is not JSON: ${excerpt(output)}` };
  }
  if (schema === undefined) return { pass: true, message: 'output is JSON' };
  const parsed = z.fromJSONSchema(schema).safeParse(value);
  if (parsed.success) return { pass: true, message: 'output matches the schema' };
  const issue = parsed.error.issues[0];
  const path = issue?.path.join('.') ?? '';
  return {
    pass: false,
    message: `output does not match the schema at ${path === '' ? '(root)' : path}: ${issue?.message ?? 'invalid'}`,
  };
}

function trajectoryCheck(run: RunView, tools: readonly string[], mode: string): Verdict {
  const actual = toolNames(run);
  let pass: boolean;
  switch (mode) {
    case 'exact':
      pass = canonicalJson(actual) === canonicalJson(tools);
      break;
    case 'ordered': {
      let at = 0;
      for (const name of actual) if (name === tools[at]) at += 1;
      pass = at === tools.length;
      break;
    }
    case 'subset':
      pass = tools.every((name) => actual.includes(name));
      break;
    default: {
      const outside = actual.filter((name) => !tools.includes(name));
      return {
        pass: outside.length === 0,
        message:
          outside.length === 0
            ? `every tool called is allowed: ${actual.join(', ') || 'none'}`
            : `called outside the allowed set: ${[...new Set(outside)].join(', ')}`,
      };
    }
  }
  return {
    pass,
    message: pass ? `trajectory ${actual.join(' → ') || '(none)'}` : trajectoryDiff(tools, actual),
  };
}

/** Expected and actual tool sequences as a line diff (`-` expected only, `+` actual only). */
export function trajectoryDiff(expected: readonly string[], actual: readonly string[]): string {
  const lengths: number[][] = Array.from({ length: expected.length + 1 }, () =>
    new Array<number>(actual.length + 1).fill(0),
  );
  for (let i = expected.length - 1; i >= 0; i--) {
    for (let j = actual.length - 1; j >= 0; j--) {
      const row = lengths[i] as number[];
      row[j] =
        expected[i] === actual[j]
          ? (lengths[i + 1]?.[j + 1] ?? 0) + 1
          : Math.max(lengths[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const lines: string[] = [];
  let i = 0;
  let j = 0;
  while (i < expected.length || j < actual.length) {
    if (i < expected.length && j < actual.length && expected[i] === actual[j]) {
      lines.push(`  ${expected[i] ?? ''}`);
      i += 1;
      j += 1;
    } else if (
      j < actual.length &&
      (i >= expected.length || (lengths[i]?.[j + 1] ?? 0) >= (lengths[i + 1]?.[j] ?? 0))
    ) {
      lines.push(`+ ${actual[j] ?? ''}`);
      j += 1;
    } else {
      lines.push(`- ${expected[i] ?? ''}`);
      i += 1;
    }
  }
  return `trajectory differs (- expected, + actual):\n${lines.join('\n')}`;
}

function toolNames(run: RunView): string[] {
  return run.calls.map((call) => call.toolName);
}

/** Ran, or was served or suppressed in its place: the call got past the guard and the gates. */
function reachedExecution(call: ToolCallView): boolean {
  return call.fate === 'executed' || call.fate === 'served' || call.fate === 'suppressed';
}

function within(value: number, min: number, max: number | undefined): boolean {
  return value >= min && (max === undefined || value <= max);
}

/** `expected` is contained in `actual`: every key of an object, every element of an array, equal leaves. */
function containsValue(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null) {
    return canonicalJson(actual) === canonicalJson(expected);
  }
  if (typeof actual !== 'object' || actual === null) return false;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, index) => containsValue(actual[index], item))
    );
  }
  return Object.entries(expected).every(([key, value]) =>
    containsValue((actual as Record<string, unknown>)[key], value),
  );
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= 160 ? JSON.stringify(flat) : `${JSON.stringify(flat.slice(0, 159))}…`;
}

/**
 * An assertion in a few words, for tables and reports.
 *
 * ```ts
 * describeAssertion(toolCalled('issue_refund', { max: 1 })) // 'tool-called issue_refund ≤1'
 * ```
 */
export function describeAssertion(assertion: EvalAssertion): string {
  switch (assertion.type) {
    case 'status':
      return `status ${[assertion.status].flat().join('|')}${assertion.reason ? ` (${assertion.reason})` : ''}`;
    case 'contains':
    case 'icontains':
      return `${assertion.type} ${JSON.stringify(assertion.value)}`;
    case 'regex':
      return `regex /${assertion.pattern}/${assertion.flags ?? ''}`;
    case 'is-json':
      return assertion.schema ? 'is-json (schema)' : 'is-json';
    case 'tool-called':
      return `tool-called ${assertion.tool}${assertion.args ? ` ${canonicalJson(assertion.args)}` : ''}${bounds(assertion.min ?? 1, assertion.max)}${assertion.executed ? ' executed' : ''}`;
    case 'tool-calls':
      return `tool-calls${bounds(assertion.min ?? 0, assertion.max)}`;
    case 'trajectory':
      return `trajectory ${assertion.mode} [${assertion.tools.join(', ')}]`;
    case 'steps':
      return `steps${bounds(assertion.min ?? 0, assertion.max)}`;
    case 'tokens':
      return `tokens ≤${assertion.max}`;
    case 'cost':
      return `cost ≤$${assertion.maxUsd}`;
    case 'latency':
      return `latency ≤${assertion.maxMs}ms`;
    case 'decision':
      return `decision${assertion.minConfidence === undefined ? '' : ` confidence ≥${assertion.minConfidence}`}${assertion.reviewRequested === undefined ? '' : ` review ${assertion.reviewRequested ? 'requested' : 'not requested'}`}${assertion.value === undefined ? '' : ` = ${canonicalJson(assertion.value)}`}`;
    case 'escalation':
      return assertion.belowConfidence === undefined
        ? 'escalated'
        : `escalated iff confidence < ${assertion.belowConfidence}`;
    case 'approval-requested':
      return `approval-requested${assertion.tool ? ` ${assertion.tool}` : ''}${bounds(assertion.min ?? 1, assertion.max)}`;
    case 'guard-verdict':
      return `guard-verdict ${assertion.verdict}${assertion.tool ? ` ${assertion.tool}` : ''}${assertion.rule ? ` (${assertion.rule})` : ''}${bounds(assertion.min ?? 1, assertion.max)}`;
    case 'suppressed':
      return `suppressed${assertion.tool ? ` ${assertion.tool}` : ''}${bounds(assertion.min ?? 1, assertion.max)}`;
    case 'no-untrusted-sink':
      return 'no-untrusted-sink';
    case 'javascript':
      return `javascript${assertion.name ? ` ${assertion.name}` : ''}`;
    case 'llm-rubric':
      return `llm-rubric ${JSON.stringify(assertion.rubric.slice(0, 60))}`;
    case 'not':
      return `not ${describeAssertion(assertion.assertion)}`;
    default:
      assertion satisfies never;
      return 'unknown';
  }
}

function bounds(min: number, max: number | undefined): string {
  if (max === undefined) return min === 1 ? '' : ` ≥${min}`;
  if (min === max) return ` ×${min}`;
  return min === 0 ? ` ≤${max}` : ` ${min}..${max}`;
}
