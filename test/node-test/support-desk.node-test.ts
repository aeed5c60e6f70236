// The support desk's suite under node:test, one test per case: `keel/eval` needs no particular
// test runner. KEEL_EVAL_BROKEN=1 runs it against the deliberately broken build instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCase } from '../../src/exports/eval.js';
import { supportDeskAgents } from '../../examples/support-desk/agents.js';
import { agents as brokenAgents } from '../../examples/support-desk/evals/broken-agents.js';
import suite from '../../examples/support-desk/evals/support-desk.eval.js';

const agents = process.env.KEEL_EVAL_BROKEN === '1' ? brokenAgents : supportDeskAgents;
const CASES = [
  'refund confirmation has a reference',
  'refund confirmation is emailed to the customer',
];

void describe('support-desk suite under node:test', () => {
  for (const name of CASES) {
    void it(name, async () => {
      const result = await runCase(suite, name, { agents });
      const failures = result.attempts.flatMap((attempt) =>
        attempt.assertions.filter((check) => !check.pass).map((check) => check.label),
      );
      assert.deepEqual(failures, []);
    });
  }
});
