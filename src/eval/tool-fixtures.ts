import { canonicalJson } from '../core/index.js';
import type {
  InterceptedCall,
  InterceptedResult,
  ToolCallInterceptor,
  ToolCallRoute,
} from '../engine/index.js';
import { TOOL_ERROR_TYPES, type ToolFailure } from '../journal/index.js';

/**
 * A tool's result in an evaluation, in place of running it: for calls of `tool` whose
 * arguments contain `args` (any call of it without `args`), the `result` value, the typed
 * `error`, or what `respond` returns (a thrown `ToolError` is its typed failure).
 */
export interface ToolFixture {
  readonly tool: string;
  readonly args?: Record<string, unknown> | undefined;
  readonly result?: unknown;
  readonly error?: ToolFailure | undefined;
  readonly respond?: ((input: unknown) => unknown) | undefined;
}

/** A result served for a call, and where it came from. */
export interface ServedResult {
  readonly result: InterceptedResult;
  readonly source: string;
}

/**
 * How calls are kept from touching the world: `serve` answers a call (a fixture, a recorded
 * result), `liveReads` lets `read` tools with no answer run, and every other call is
 * suppressed: journaled, never executed, the model given `suppressedResult`.
 */
export interface SideEffectPolicy {
  readonly serve: (
    call: InterceptedCall,
  ) => ServedResult | undefined | Promise<ServedResult | undefined>;
  readonly liveReads: boolean | ((call: InterceptedCall) => boolean);
  readonly suppressedResult?:
    InterceptedResult | ((call: InterceptedCall) => InterceptedResult) | undefined;
}

/** What a suppressed call gives the model by default: a neutral note, not an error. */
export const SUPPRESSED_RESULT: InterceptedResult = Object.freeze({
  ok: true,
  value: Object.freeze({
    suppressed: true,
    note: 'This action was not carried out here; nothing changed.',
  }),
});

/**
 * The interceptor for runs that must not touch the world: served when an answer exists, live
 * for `read` tools only when allowed, suppressed otherwise. `write`, `irreversible` and
 * `egress` tools never run.
 *
 * ```ts
 * const interceptToolCall = sideEffectInterceptor({ serve: serveFixtures(fixtures), liveReads: false });
 * const runtime = createRuntime({ store, agents, interceptToolCall });
 * ```
 */
export function sideEffectInterceptor(policy: SideEffectPolicy): ToolCallInterceptor {
  return async function intercept(call): Promise<ToolCallRoute> {
    const served = await policy.serve(call);
    if (served) return { type: 'serve', source: served.source, result: served.result };
    const live = typeof policy.liveReads === 'function' ? policy.liveReads(call) : policy.liveReads;
    if (call.effect === 'read' && live) return { type: 'execute' };
    const result =
      typeof policy.suppressedResult === 'function'
        ? policy.suppressedResult(call)
        : (policy.suppressedResult ?? SUPPRESSED_RESULT);
    const reason =
      call.effect === 'read'
        ? `no fixture for ${call.toolName}, and read tools do not run live here`
        : `no fixture for ${call.toolName}, a ${call.effect} tool: side effects never run here`;
    return { type: 'suppress', reason, result };
  };
}

/**
 * Answer calls from fixtures: the first whose tool matches and whose `args` the call's
 * arguments contain.
 *
 * ```ts
 * serveFixtures([{ tool: 'issue_refund', result: { refundId: 'RF-1' } }])
 * ```
 */
export function serveFixtures(
  fixtures: readonly ToolFixture[],
): (call: InterceptedCall) => Promise<ServedResult | undefined> {
  return async function serve(call) {
    const index = fixtures.findIndex(
      (fixture) =>
        fixture.tool === call.toolName &&
        (fixture.args === undefined || containsArgs(call.input, fixture.args)),
    );
    const fixture = fixtures[index];
    if (!fixture) return undefined;
    const source = `fixture #${index + 1} of ${call.toolName}`;
    if (fixture.error) return { source, result: { ok: false, error: fixture.error } };
    if (!fixture.respond) return { source, result: { ok: true, value: fixture.result ?? null } };
    try {
      return { source, result: { ok: true, value: await fixture.respond(call.input) } };
    } catch (error) {
      return { source, result: { ok: false, error: failureOf(error) } };
    }
  };
}

function failureOf(error: unknown): ToolFailure {
  const type = (error as { type?: unknown } | null)?.type;
  const message = error instanceof Error ? error.message : String(error);
  return (TOOL_ERROR_TYPES as readonly unknown[]).includes(type)
    ? { type: type as ToolFailure['type'], message }
    : { type: 'internal', message };
}

/** Every key of `expected` is in `actual` with an equal value (objects compared the same way). */
export function containsArgs(actual: unknown, expected: unknown): boolean {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected)) {
    return canonicalJson(actual) === canonicalJson(expected);
  }
  if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([key, value]) =>
    containsArgs((actual as Record<string, unknown>)[key], value),
  );
}
