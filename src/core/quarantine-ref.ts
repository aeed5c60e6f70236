/**
 * The reference a planner sees in place of a free-text field of quarantined content, and may
 * pass back as a tool argument: `⟨q:<callId>.<path>⟩`. The engine puts the value back before
 * the call is validated and gated, so the action policy judges the real value.
 *
 * ```ts
 * quarantineRef('call_0_0', 'payee') // '⟨q:call_0_0.payee⟩'
 * ```
 */
export function quarantineRef(ref: string, path: string): string {
  return path === '' ? `⟨q:${ref}⟩` : `⟨q:${ref}.${path}⟩`;
}

const REFERENCE = /⟨q:([^⟩\s.[]+)((?:[.[][^⟩\s]*)?)⟩/gu;

/**
 * `value` with every quarantine reference replaced by what it names in `extracted` (callId →
 * extracted data). A string that is exactly one reference becomes the value itself (a number
 * stays a number); references inside longer text become text. An unknown reference is an error.
 */
export function resolveQuarantineRefs(
  value: unknown,
  extracted: ReadonlyMap<string, unknown>,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string } {
  let error: string | undefined;
  const lookup = (callId: string, path: string): unknown => {
    let current: unknown = extracted.get(callId);
    if (current === undefined) return undefined;
    for (const step of path.match(/[^.[\]]+/g) ?? []) {
      if (typeof current !== 'object' || current === null) return undefined;
      current = (current as Record<string, unknown>)[step];
    }
    return current;
  };
  const resolve = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(resolve);
    if (typeof item === 'object' && item !== null)
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, resolve(inner)]));
    if (typeof item !== 'string' || !item.includes('⟨q:')) return item;
    const whole = [...item.matchAll(REFERENCE)];
    const only = whole[0];
    if (whole.length === 1 && only && only[0] === item) {
      const found = lookup(only[1] ?? '', only[2] ?? '');
      if (found === undefined) error ??= `unknown reference ${item}`;
      return found ?? item;
    }
    return item.replace(REFERENCE, (reference: string, callId: string, path: string) => {
      const found = lookup(callId, path);
      if (typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean')
        return String(found);
      error ??= `unknown reference ${reference}`;
      return reference;
    });
  };
  const resolved = resolve(value);
  return error === undefined ? { ok: true, value: resolved } : { ok: false, error };
}
