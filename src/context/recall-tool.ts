import { z } from 'zod';
import { once, type Provenance } from '../core/index.js';
import { termsOf } from './recall.js';
import type { ResultStore } from '../store/index.js';
import { ToolError, defineTool, type Tool } from '../tools/index.js';

/** The name the recall tool is offered to the model under. */
export const RECALL_TOOL_NAME = 'recall';

/** Characters of each recalled result returned at most. */
const RECALLED_CHARS = 8_000;

// Made when the recall tool is first made, not when Keel is imported.
const recallInput = once(() =>
  z.object({
    query: z.string().min(1).max(500).describe('Words to look for: names, codes, topics.'),
    limit: z.number().int().min(1).max(5).optional().describe('Results to return (default 3).'),
  }),
);

/** One recalled result as the tool returns it: the text with its provenance label. */
export interface RecalledResult {
  readonly ref: string;
  readonly step: number;
  readonly toolName: string;
  readonly trust: 'trusted' | 'untrusted';
  readonly source: string;
  readonly content: string;
}

/**
 * The `recall({ query })` tool: searches this run's stored tool results (large results shown in
 * context only as a reference and preview) and returns the best matches in full, each with its
 * provenance label. Read effect. Given a store it searches that store; without one (as on an
 * agent's definition) the engine binds it to the run's store when it runs.
 *
 * ```ts
 * const tool = recallTool(store.results); // what the engine runs for `recall` calls
 * ```
 */
export function recallTool(results?: ResultStore): Tool {
  return defineTool({
    name: RECALL_TOOL_NAME,
    description:
      "Search this run's earlier tool results (large ones appear in the conversation only as a stored reference and a preview) and get the best matches in full. Each match says whether its content is trusted.",
    input: recallInput(),
    effect: 'read',
    // The label is decided per call from what was recalled: see `recallProvenance`.
    untrustedOutput: false,
    idempotent: true,
    breaker: false,
    async run({ query, limit }, context) {
      if (!results) {
        throw new ToolError('unavailable', 'recall is served by the engine that runs the agent');
      }
      const matches = await results.search({
        runId: context.runId,
        terms: [...termsOf(query)],
        limit: limit ?? 3,
      });
      const recalled: RecalledResult[] = matches.map((match) => ({
        ref: match.ref,
        step: match.step,
        toolName: match.toolName,
        trust: match.trust,
        source: match.source,
        content:
          match.content.length <= RECALLED_CHARS
            ? match.content
            : `${match.content.slice(0, RECALLED_CHARS)}…`,
      }));
      return { query, results: recalled };
    },
  });
}

/**
 * The label of a recall tool's result: untrusted when any recalled result is, or when the
 * result cannot be read as the tool's own output. Recall never upgrades a label.
 *
 * ```ts
 * recallProvenance('{"results":[{"trust":"untrusted",...}]}'); // { trust: 'untrusted', source: 'tool:recall' }
 * ```
 */
export function recallProvenance(content: string): Provenance {
  const source = `tool:${RECALL_TOOL_NAME}`;
  try {
    const parsed = JSON.parse(content) as { results?: unknown };
    if (!Array.isArray(parsed.results)) return { trust: 'untrusted', source };
    const allTrusted = parsed.results.every(
      (result: unknown) =>
        typeof result === 'object' &&
        result !== null &&
        (result as { trust?: unknown }).trust === 'trusted',
    );
    return { trust: allTrusted ? 'trusted' : 'untrusted', source };
  } catch {
    return { trust: 'untrusted', source };
  }
}
