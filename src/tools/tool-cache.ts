import { canonicalJson, digest, untilAborted } from '../core/index.js';
import type { NewAuditEntry } from '../store/index.js';
import type { Tool } from './define-tool.js';
import type { ToolFailure } from './tool-error.js';
import type { ToolOutcome } from './execute-tool.js';
import type { ToolPolicies } from './tool-policies.js';

/**
 * The cache key of a call: tool name, tool version and canonical arguments (key order does
 * not matter), digested.
 *
 * ```ts
 * cacheKey(tool, { b: 1, a: 2 }) === cacheKey(tool, { a: 2, b: 1 }) // true
 * ```
 */
export function cacheKey(tool: Pick<Tool, 'name' | 'version'>, input: unknown): string {
  return `${tool.name}@${tool.version}:${digest(canonicalJson(input) ?? 'null')}`;
}

/**
 * Answer a cacheable call from the store's result cache, or from an identical call already
 * executing in this process (coalesced: one execution, its outcome shared), or execute it and
 * keep a successful, complete result for the tool's TTL. Errors, fallbacks and partial results
 * are never kept.
 */
export async function runCached(options: {
  tool: Tool;
  key: string;
  policies: ToolPolicies;
  signal: AbortSignal;
  execute: () => Promise<ToolOutcome>;
  /** The call's audit entries for an answer it did not execute (none when already written). */
  audit: (
    answer: { value: unknown } | { failure: ToolFailure },
    cache: 'hit' | 'coalesced',
  ) => Promise<NewAuditEntry[]>;
}): Promise<ToolOutcome> {
  const { tool, key, policies, signal } = options;
  const store = policies.store;
  const ttlMs = tool.cache?.ttlMs;
  if (!store || ttlMs === undefined) return options.execute();
  const running = policies.inFlight.get(key);
  if (running) {
    const shared = await untilAborted(running, signal);
    if (shared === undefined) {
      // The execution this call waited for was cancelled or hit a fault of its own run (its
      // journal, its lease): nothing to share. Execute (or wait for a new execution) instead.
      if (policies.inFlight.get(key) === running) policies.inFlight.delete(key);
      return runCached(options);
    }
    // The execution's audit entries are its own caller's; this call gets one of its own.
    const { audit: _executed, ...outcome } = shared;
    const audit = await options.audit(
      outcome.ok ? { value: outcome.value } : { failure: outcome.failure },
      'coalesced',
    );
    const own = audit.length > 0 ? { audit } : {};
    return outcome.ok ? { ...outcome, cache: 'coalesced', ...own } : { ...outcome, ...own };
  }
  const execution = (async (): Promise<ToolOutcome> => {
    const hit = await store.tools.getCachedResult(key, policies.clock.now());
    if (hit) {
      const value = JSON.parse(hit.value) as unknown;
      const audit = await options.audit({ value }, 'hit');
      return { ok: true, value, attempts: 0, cache: 'hit', ...(audit.length > 0 ? { audit } : {}) };
    }
    const outcome = await options.execute();
    if (outcome.ok && !outcome.degraded && !outcome.partial) {
      const text = serialized(outcome.value);
      const now = policies.clock.now();
      if (text !== undefined) {
        await store.tools.putCachedResult(
          { key, tool: tool.name, value: text, createdAt: now, expiresAt: now + ttlMs },
          now,
        );
      }
    }
    return outcome;
  })();
  const shared = execution.then(
    (outcome) => (signal.aborted ? undefined : outcome),
    () => undefined,
  );
  policies.inFlight.set(key, shared);
  try {
    return await execution;
  } finally {
    if (policies.inFlight.get(key) === shared) policies.inFlight.delete(key);
  }
}

function serialized(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
