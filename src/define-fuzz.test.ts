import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineGates } from './approval/index.js';
import { KeelError, seededRandom } from './core/index.js';
import { defineRouter } from './decide/index.js';
import { defineAgent, defineGuard, defineModelTiers, defineTool, simulator } from './index.js';

/*
 * Every define* function on bounded, seeded junk: it returns, or it throws a KeelError. Never a
 * TypeError from reading a field of null, never a hang.
 */

const KEYS = [
  'name',
  'description',
  'instructions',
  'model',
  'tools',
  'gates',
  'guard',
  'input',
  'effect',
  'run',
  'effects',
  'approverGroup',
  'expiresAfterMs',
  'onExpiry',
  'policies',
  'scope',
  'limits',
  'routes',
  'tiers',
  'when',
  'confidence',
  'sinks',
  'allow',
  'retry',
  'timeoutMs',
  'cache',
  'escape',
  'breaker',
  'bulkhead',
  'untrusted',
  'ungrounded',
  'destinations',
  '__proto__',
  'constructor',
];

function junk(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 2 ? 9 : 12));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return Math.floor(random() * 2 ** 32) - 2 ** 31;
    case 3:
      return [Number.NaN, Infinity, -1, 0, 1e300][Math.floor(random() * 5)];
    case 4:
      return ['', 'x', 'refunds', 'irreversible', 'confirm', 'deny', '\u0000', 'a'.repeat(300)][
        Math.floor(random() * 8)
      ];
    case 5:
      return random() < 0.5;
    case 6:
      return () => undefined;
    case 7:
      return z.object({ id: z.string() });
    case 8:
      return simulator({ script: [] });
    case 9:
    case 10: {
      const value: Record<string, unknown> = {};
      const count = Math.floor(random() * 6);
      for (let index = 0; index < count; index += 1)
        value[KEYS[Math.floor(random() * KEYS.length)] ?? 'name'] = junk(random, depth + 1);
      return value;
    }
    default:
      return Array.from({ length: Math.floor(random() * 4) }, () => junk(random, depth + 1));
  }
}

const DEFINERS: Record<string, (value: unknown) => unknown> = {
  defineAgent: (value) => defineAgent(value as never),
  defineTool: (value) => defineTool(value as never),
  defineGates: (value) => defineGates(value as never),
  defineGuard: (value) => defineGuard(value as never),
  defineRouter: (value) => defineRouter(value as never),
  defineModelTiers: (value) => defineModelTiers(value as never),
};

describe('define* on junk', () => {
  it.each(Object.keys(DEFINERS))('%s returns or throws a KeelError, for null too', (name) => {
    const define = DEFINERS[name];
    if (!define) throw new Error(name);
    const random = seededRandom(2_400 + name.length);
    const inputs: unknown[] = [null, undefined, 0, 'x', [], {}];
    for (let index = 0; index < 400; index += 1) inputs.push(junk(random));
    const strays: string[] = [];
    for (const input of inputs) {
      try {
        define(input);
      } catch (error) {
        if (!KeelError.isInstance(error))
          strays.push(`${String(error)} on ${JSON.stringify(input)?.slice(0, 200) ?? 'undefined'}`);
      }
    }
    expect(strays.slice(0, 5)).toEqual([]);
  });
});
