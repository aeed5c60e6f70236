/**
 * `make`'s value, made at the first call and the same at every call after. For what should
 * cost nothing until it is used: a schema made at import is paid by every cold start.
 *
 * ```ts
 * const answerShape = once(() => z.object({ value: z.unknown() }));
 * answerShape().safeParse(parsed);
 * ```
 */
export function once<T>(make: () => T): () => T {
  let made: { readonly value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
