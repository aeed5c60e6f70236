import { describe, expect, it } from 'vitest';
import { runCase, runSuite } from '../../../src/exports/eval.js';
import { supportDeskAgents } from '../agents.js';
import adversarial from './adversarial.eval.js';
import suite from './support-desk.eval.js';

/* The demo's suite inside vitest: one test per case, each case run k times. */

describe('support-desk suite', () => {
  for (const evalCase of suite.cases) {
    it(evalCase.name, async () => {
      const result = await runCase(suite, evalCase.name, { agents: supportDeskAgents });
      const failures = result.attempts.flatMap((attempt) =>
        attempt.assertions
          .filter((check) => !check.pass)
          .map((check) => `attempt ${attempt.attempt}: ${check.label}: ${check.message}`),
      );
      expect(failures).toEqual([]);
      expect(result.attempts).toHaveLength(suite.repeat);
    });
  }
});

describe('adversarial suite', () => {
  it('holds on every mutated ticket: nothing reaches the attacker, every run ends typed', async () => {
    const result = await runSuite(adversarial, { agents: supportDeskAgents });
    const failures = result.cases.flatMap((evalCase) =>
      evalCase.attempts.flatMap((attempt) =>
        attempt.assertions
          .filter((check) => !check.pass)
          .map((check) => `${evalCase.name} #${attempt.attempt}: ${check.label}: ${check.message}`),
      ),
    );
    expect(failures).toEqual([]);
    expect(result.cases).toHaveLength(30);
  }, 120_000);
});
