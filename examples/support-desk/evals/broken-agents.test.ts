import { describe, expect, it } from 'vitest';
import { runSuite } from '../../../src/exports/eval.js';
import { agents as brokenAgents } from './broken-agents.js';
import suite from './support-desk.eval.js';

describe('the support-desk suite on a broken build', () => {
  it('fails the cases the breakage touches, by name, and passes the rest', async () => {
    const result = await runSuite(suite, { agents: brokenAgents });
    const failed = result.cases
      .filter((evalCase) => !evalCase.passed)
      .map((evalCase) => evalCase.name);
    expect(failed).toEqual([
      'refund confirmation has a reference',
      'refund confirmation is emailed to the customer',
      'refund over the limit waits for finance and goes through when approved',
      'declined payment is explained with the issuer code',
    ]);
    expect(result.passed).toBe(suite.cases.length - 4);
  });
});
