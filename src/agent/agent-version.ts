import { canonicalJson, digest } from '../core/index.js';
import type { Agent } from './define-agent.js';

/** What an agent's content digest covers. */
export type VersionedContent = Pick<
  Agent,
  | 'instructions'
  | 'description'
  | 'model'
  | 'tier'
  | 'tools'
  | 'limits'
  | 'maxOutputTokens'
  | 'gates'
  | 'guard'
  | 'context'
  | 'onOutOfScope'
  | 'untrusted'
>;

/** An explicit version: letters, digits and `. _ - + :`, at most 64 characters. */
export const AGENT_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+:-]{0,63}$/;

/**
 * The content digest an agent without an explicit `version` is known by (`d:` and 12 hex
 * characters): its instructions, tools (names, descriptions, schemas, effects, tool versions),
 * model and tier, limits, output cap, gates, guard, context and untrusted-content options. Any
 * change to what the agent would do gives a new version; the same definition in another
 * process gives the same one. Functions (a gate's scope, a policy) count by their source text.
 *
 * ```ts
 * contentVersion(agent) // 'd:3f9a0c2b7e11'
 * ```
 */
export function contentVersion(agent: VersionedContent): string {
  const content = {
    instructions: agent.instructions,
    description: agent.description,
    model: [agent.model.provider, agent.model.modelId],
    fallbacks: (agent.model.fallbacks ?? []).map((model) => [model.provider, model.modelId]),
    tier: agent.tier ?? null,
    tools: agent.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      schema: tool.spec,
      effect: tool.effect,
      version: tool.version,
    })),
    limits: agent.limits,
    maxOutputTokens: agent.maxOutputTokens ?? null,
    gates: agent.gates?.options ?? null,
    guard: agent.guard?.options ?? null,
    context: agent.context ?? null,
    onOutOfScope: agent.onOutOfScope,
    untrusted: agent.untrusted,
  };
  return `d:${digest(canonicalJson(plain(content, new WeakSet()))).slice(0, 12)}`;
}

/** A value as plain JSON: functions by their source, models by provider and id, no cycles. */
function plain(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'function') return `fn:${String(value)}`;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof RegExp) return `re:${String(value)}`;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[cycle]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => plain(item, seen));
    const record = value as Record<string, unknown>;
    // A model adapter: who it is, not its client.
    if (record.specificationVersion === 'v1' && typeof record.doGenerate === 'function')
      return `model:${String(record.provider)}:${String(record.modelId)}`;
    if (value instanceof Set) return [...value].map((item) => plain(item, seen));
    if (value instanceof Map)
      return [...value.entries()].map(([key, item]) => [plain(key, seen), plain(item, seen)]);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record)) out[key] = plain(record[key], seen);
    return out;
  } finally {
    seen.delete(value);
  }
}
