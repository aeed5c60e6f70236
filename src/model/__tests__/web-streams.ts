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
