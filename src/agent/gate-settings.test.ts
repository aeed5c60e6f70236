import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../core/index.js';
import { simulator } from '../model/index.js';
import { defineTool } from '../tools/index.js';
import { defineAgent } from './index.js';
import type { AgentDefinition } from './index.js';

/* A gate setting that would silently do nothing is refused when the agent is defined. */

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Look up an order',
  input: z.object({ id: z.string() }),
  effect: 'read',
  run: () => Promise.resolve({}),
});
const refund = defineTool({
  name: 'issue_refund',
  description: 'Refund',
  input: z.object({ id: z.string() }),
  effect: 'irreversible',
  run: () => Promise.resolve({}),
});

function define(gates: NonNullable<AgentDefinition['gates']>): string | undefined {
  try {
    defineAgent({
      name: 'desk',
      instructions: 'Help.',
      model: simulator({ script: [] }),
      tools: [lookup, refund],
      gates,
    });
    return undefined;
  } catch (error) {
    if (KeelError.isInstance(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('gate settings that would do nothing', () => {
  it('refuses a tool name the agent does not have', () => {
    expect(define({ tools: { issue_refnd: 'confirm' } })).toMatch(
      /^invalid_definition: .*"gates\.tools\.issue_refnd" names a tool the agent does not have/,
    );
  });

  it('refuses routing options on a tool no gate would ever stop', () => {
    expect(define({ tools: { lookup_order: { approverGroup: 'finance' } } })).toMatch(
      /^invalid_definition: .*"gates\.tools\.lookup_order" sets who decides/,
    );
  });

  it("accepts the same options with when: 'confirm', on a gated effect, or with a policy that may confirm", () => {
    expect(define({ tools: { lookup_order: { when: 'confirm', approverGroup: 'finance' } } })).toBe(
      undefined,
    );
    expect(define({ tools: { issue_refund: { approverGroup: 'finance' } } })).toBe(undefined);
    expect(
      define({
        tools: { lookup_order: { approverGroup: 'finance' } },
        policies: [() => ({ type: 'allow' })],
      }),
    ).toBe(undefined);
  });
});
