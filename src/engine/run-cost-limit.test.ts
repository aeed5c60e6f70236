import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent, type Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';
import { simulator, type ModelAdapterV1 } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { createRuntime, type Runtime } from './index.js';

/*
 * A cost limit holds for a run as it does for an agent: a `maxCostUsd` given for the run, or
 * the agent's own on a model the run swaps in (`--model`, `options.model`), needs a price.
 */

const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

const PRICE = { inputPerMillion: 1, outputPerMillion: 2 } as const;
const answer = (price: typeof PRICE | null, modelId = 'simulator'): ModelAdapterV1 =>
  simulator({ script: [{ text: 'done' }], price, modelId });

async function runtimeFor(agent: Agent, swapIn?: ModelAdapterV1): Promise<Runtime> {
  const store = await openStore('sqlite::memory:');
  stores.push(store);
  return createRuntime({
    store,
    agents: [agent],
    ...(swapIn ? { resolveModel: () => swapIn } : {}),
  });
}

async function refusal(attempt: Promise<unknown>): Promise<KeelError> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!KeelError.isInstance(error)) throw new Error(`expected a KeelError, got ${String(error)}`);
  return error;
}

describe('a run-level maxCostUsd', () => {
  const agent = defineAgent({ name: 'local', instructions: 'Answer.', model: answer(null) });

  it('is refused before the run starts on an unpriced model, naming the fixes', async () => {
    const runtime = await runtimeFor(agent);
    const error = await refusal(runtime.run('local', 'hi', { limits: { maxCostUsd: 0.2 } }));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain('"limits.maxCostUsd" cannot hold');
    expect(error.message).toContain('model "simulator:simulator" has no known price');
    expect(error.message).toContain('keel.prices.json');
    expect(error.message).toContain("maxCostUsd: 'tokens-only' to limit this run");
    // Nothing was created: the store holds no run.
    expect(await runtime.store.listRuns({ limit: 5 })).toEqual([]);
  });

  it('names a run-level maxCostUsd that is neither a price nor tokens-only', async () => {
    const runtime = await runtimeFor(agent);
    const error = await refusal(
      runtime.run('local', 'hi', { limits: { maxCostUsd: 'token-only' as 'tokens-only' } }),
    );
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain(
      `run of "local": "limits.maxCostUsd" must be a positive number of US dollars, or 'tokens-only'`,
    );
    expect(await runtime.store.listRuns({ limit: 5 })).toEqual([]);
  });

  it("runs with 'tokens-only' on the same model", async () => {
    const runtime = await runtimeFor(agent);
    const result = await runtime.run('local', 'hi', {
      limits: { maxCostUsd: 'tokens-only', maxTokens: 9_000 },
    });
    expect(result.status).toBe('succeeded');
    const { state } = await runtime.inspect(result.id);
    expect(state.limits?.maxCostUsd).toBe(Number.MAX_VALUE);
    expect(state.limits?.maxTokens).toBe(9_000);
  });

  it('runs on a priced model', async () => {
    const priced = defineAgent({ name: 'priced', instructions: 'Answer.', model: answer(PRICE) });
    const runtime = await runtimeFor(priced);
    const result = await runtime.run('priced', 'hi', { limits: { maxCostUsd: 0.2 } });
    expect(result.status).toBe('succeeded');
  });
});

describe("an agent's maxCostUsd on a model the run swaps in", () => {
  const limited = defineAgent({
    name: 'limited',
    instructions: 'Answer.',
    model: answer(PRICE),
    limits: { maxCostUsd: 0.5 },
  });

  it('is refused when the swapped-in model has no price', async () => {
    const runtime = await runtimeFor(limited, answer(null, 'local-llm'));
    const error = await refusal(runtime.run('limited', 'hi', { model: 'local:local-llm' }));
    expect(error.code).toBe('invalid_input');
    expect(error.message).toContain(`run of "limited" on model "local:local-llm"`);
    // Named as the run wrote it, not as the adapter calls itself.
    expect(error.message).toContain('model "local:local-llm" has no known price');
    expect(error.message).toContain("maxCostUsd: 'tokens-only'");
    await expect(runtime.submit('limited', 'hi', { model: 'local:local-llm' })).rejects.toThrow(
      /cannot hold/,
    );
  });

  it('runs when the swapped-in model is priced', async () => {
    const runtime = await runtimeFor(limited, answer(PRICE, 'other'));
    const result = await runtime.run('limited', 'hi', { model: 'other:other' });
    expect(result.status).toBe('succeeded');
  });

  it("runs when the run says 'tokens-only'", async () => {
    const runtime = await runtimeFor(limited, answer(null, 'local-llm'));
    const result = await runtime.run('limited', 'hi', {
      model: 'local:local-llm',
      limits: { maxCostUsd: 'tokens-only' },
    });
    expect(result.status).toBe('succeeded');
  });

  it('an agent on the default cost limit runs on an unpriced swapped-in model', async () => {
    const plain = defineAgent({ name: 'plain', instructions: 'Answer.', model: answer(PRICE) });
    const runtime = await runtimeFor(plain, answer(null, 'local-llm'));
    const result = await runtime.run('plain', 'hi', { model: 'local:local-llm' });
    expect(result.status).toBe('succeeded');
  });
});
