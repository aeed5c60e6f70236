import { describe, expect, it } from 'vitest';
import { runCase } from '../../../src/exports/eval.js';
import { supportDeskAgents } from '../agents.js';
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
