import { describe, expect, it } from 'vitest';
import { ModelCallError, simulator, type ModelRequest, type ScriptContext } from './index.js';

const trusted = { trust: 'trusted', source: 'task' } as const;

function request(task: string, toolResults: string[] = []): ModelRequest {
  const results = toolResults.map((content, index) => ({
    type: 'tool_result' as const,
    callId: `c${index}`,
    toolName: 'lookup',
    content,
    isError: false,
    provenance: trusted,
  }));
  return {
    system: 'be helpful',
    tools: [],
    messages: [
      { role: 'user', parts: [{ type: 'text', text: task, provenance: trusted }] },
      ...(results.length > 0
        ? [
            { role: 'assistant' as const, parts: [] },
            { role: 'tool' as const, parts: results },
          ]
        : []),
    ],
  };
}

describe('simulator', () => {
  it('fails typed when a list script has no turn for the step, never with a made-up answer', async () => {
    const model = simulator({ script: [{ toolCalls: [{ name: 'lookup', args: {} }] }] });
    await model.doGenerate(request('task'), {});
    const error = await model
      .doGenerate(request('task', ['x']), {})
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ type: 'bad_request' });
    expect((error as Error).message).toBe(
      'the simulator script has 1 turn(s) and no turn for step 1',
    );
  });

  it('answers step i with turn i of a list script', async () => {
    const model = simulator({
      script: [{ toolCalls: [{ name: 'lookup', args: { b: 1, a: 2 } }] }, { text: 'done' }],
    });
    const first = await model.doGenerate(request('task'), {});
    expect(first.content).toEqual([
      { type: 'tool_call', callId: 'call_0_0', toolName: 'lookup', arguments: '{"a":2,"b":1}' },
    ]);
    expect(first.finishReason).toBe('tool_calls');
    const second = await model.doGenerate(request('task', ['x']), {});
    expect(second.content).toEqual([{ type: 'text', text: 'done' }]);
    expect(second.finishReason).toBe('stop');
  });

  it('gives the same answer for the same conversation and seed, in a new instance', async () => {
    const script = ({ random }: ScriptContext) => ({ text: String(random()) });
    const a = await simulator({ script, seed: 7 }).doGenerate(request('same'), {});
    const b = await simulator({ script, seed: 7 }).doGenerate(request('same'), {});
    const c = await simulator({ script, seed: 8 }).doGenerate(request('same'), {});
    expect(a.content).toEqual(b.content);
    expect(a.content).not.toEqual(c.content);
  });

  it('shows a script the latest tool results in call order', async () => {
    let seen: string[] = [];
    const model = simulator({
      script: ({ lastToolResults }) => {
        seen = lastToolResults.map((result) => result.content);
        return { text: 'ok' };
      },
    });
    await model.doGenerate(request('task', ['first', 'second', 'third']), {});
    expect(seen).toEqual(['first', 'second', 'third']);
  });

  it('fails the first attempts of a step when failFirst is set, then answers', async () => {
    const model = simulator({
      script: [{ text: 'ok', failFirst: { type: 'rate_limited', times: 2, retryAfterMs: 30 } }],
    });
    const failures: unknown[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      failures.push(await model.doGenerate(request('t'), {}).catch((error: unknown) => error));
    }
    expect(
      failures.map((error) => ModelCallError.isInstance(error) && [error.type, error.retryAfterMs]),
    ).toEqual([
      ['rate_limited', 30],
      ['rate_limited', 30],
    ]);
    expect((await model.doGenerate(request('t'), {})).content).toEqual([
      { type: 'text', text: 'ok' },
    ]);
  });

  it('emits raw malformed arguments verbatim', async () => {
    const model = simulator({
      script: [{ toolCalls: [{ name: 'lookup', rawArguments: '{not json' }] }],
    });
    const response = await model.doGenerate(request('t'), {});
    expect(response.content[0]).toMatchObject({ type: 'tool_call', arguments: '{not json' });
  });

  it('rejects with an aborted error when the signal aborts during latency', async () => {
    const model = simulator({ script: [{ text: 'late', latencyMs: 10_000 }] });
    const controller = new AbortController();
    const pending = model.doGenerate(request('t'), { signal: controller.signal });
    controller.abort();
    const error = await pending.catch((caught: unknown) => caught);
    expect(ModelCallError.isInstance(error) && error.type).toBe('aborted');
  });

  it('reports usage and a known price by default, and no price when told it is unknown', async () => {
    const priced = simulator({ script: [{ text: 'hello there' }] });
    const response = await priced.doGenerate(request('t'), {});
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.usage.outputTokens).toBeGreaterThan(0);
    expect(priced.price).toEqual({ inputPerMillion: 3, outputPerMillion: 15 });
    expect(simulator({ script: [], price: null }).price).toBeUndefined();
  });
});
