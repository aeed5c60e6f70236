import type { ModelAdapterV1, ModelRequest, ModelResponse } from '../model-adapter.js';

/**
 * Runs `during` with the global `ReadableStream` counting what it constructs: how many web
 * streams the code under test built.
 */
export async function countWebStreams<T>(
  during: () => Promise<T>,
): Promise<{ readonly result: T; readonly made: number }> {
  const original = globalThis.ReadableStream;
  let made = 0;
  globalThis.ReadableStream = class extends original<unknown> {
    constructor(...args: ConstructorParameters<typeof ReadableStream>) {
      super(...args);
      made += 1;
    }
  } as typeof ReadableStream;
  try {
    const result = await during();
    return { result, made };
  } finally {
    globalThis.ReadableStream = original;
  }
}

/**
 * Calls each model once to load its SDK and connect, then once more counting the web streams
 * that call builds: a streamed call's and one whose JSON body the SDK parses.
 */
export async function webStreamsPerCall(
  models: { readonly streamed: ModelAdapterV1; readonly whole: ModelAdapterV1 },
  request: ModelRequest,
): Promise<{
  readonly read: { readonly result: ModelResponse; readonly made: number };
  readonly parsed: { readonly result: ModelResponse; readonly made: number };
}> {
  await models.streamed.doGenerate(request, {});
  await models.whole.doGenerate(request, {});
  const read = await countWebStreams(() => models.streamed.doGenerate(request, {}));
  const parsed = await countWebStreams(() => models.whole.doGenerate(request, {}));
  return { read, parsed };
}
