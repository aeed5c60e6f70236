import { z } from 'zod';
import { defineAgent, type Agent } from '../../agent/index.js';
import { simulator } from '../../model/index.js';
import { defineTool } from '../../tools/index.js';

/**
 * The agents whose journals `whole-digest-journals.json` holds: runs recorded when a
 * `requestHash` was a digest of the whole request, kept so replay of such journals stays
 * identical. One shows tool output verbatim, one spotlights it (untrusted pages).
 */
export function digestAgents(): { readonly verbatim: Agent; readonly spotlight: Agent } {
  const read = defineTool({
    name: 'read',
    description: 'Read a value by key.',
    input: z.object({ key: z.string() }),
    effect: 'read',
    run: ({ key }) => Promise.resolve({ key, value: `value of ${key}` }),
  });
  const fetchPage = defineTool({
    name: 'fetch_page',
    description: 'Fetch a web page.',
    input: z.object({ url: z.string() }),
    effect: 'read',
    untrustedOutput: true,
    run: ({ url }) => Promise.resolve(`<html>page at ${url}</html>`),
  });
  const model = simulator({
    script: ({ step }) =>
      step < 12
        ? {
            toolCalls: [
              { name: 'read', args: { key: `k-${step}` } },
              { name: 'fetch_page', args: { url: `https://example.com/${step}` } },
            ],
          }
        : { text: 'done' },
  });
  const common = {
    model,
    instructions: 'Read values and pages until done.',
    tools: [read, fetchPage],
    limits: { maxIterations: 20 },
  };
  return {
    verbatim: defineAgent({ name: 'digest-verbatim', ...common }),
    spotlight: defineAgent({
      name: 'digest-spotlight',
      ...common,
      untrusted: { handling: 'spotlight', detector: false },
    }),
  };
}
