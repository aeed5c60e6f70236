import { KeelError, type KeelErrorCode } from './keel-error.js';

/** Reports a bad field: throws, naming the field and the problem. */
export type FieldFault = (field: string, problem: string) => never;

/** A `FieldFault` throwing `code` as `<where>: "<field>" <problem>`. */
export function fieldFault(code: KeelErrorCode, where: string): FieldFault {
  return (field, problem) => {
    throw new KeelError(code, `${where}: "${field}" ${problem}`);
  };
}

/**
 * Fails, through `fail`, on the first field of `value` that is not in `known`, naming it (after
 * `prefix`) and the option it is closest to: a misspelt option (`gate` for `gates`,
 * `timeoutMS`) would otherwise be carried along and do nothing. Only own enumerable keys count.
 *
 * ```ts
 * refuseUnknownFields({ gate: {} }, ['gates', 'tools'], fail) // "gate" is not an option (did you mean "gates"?)
 * ```
 */
export function refuseUnknownFields(
  value: object,
  known: readonly string[],
  fail: FieldFault,
  prefix = '',
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known);
    fail(
      `${prefix}${key}`,
      near
        ? `is not an option (did you mean "${near}"?)`
        : `is not an option; the options are ${known.join(', ')}`,
    );
  }
}

/** The known name closest to `key` when it is a likely misspelling (case, a letter or two). */
function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const name of known) {
    const distance = name.toLowerCase() === lower ? 0 : editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, for names of a few dozen characters. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Every key of `T`, as a list checked when it is compiled: a key of `T` left out (an option
 * added later) is a type error naming it, so `refuseUnknownFields` never refuses a real option.
 *
 * ```ts
 * const FIELDS = allFieldsOf<{ a?: number; b?: string }>()(['a', 'b']);
 * ```
 */
export function allFieldsOf<T>() {
  return <const Keys extends readonly (keyof T & string)[]>(
    keys: Keys &
      ([Exclude<keyof T, Keys[number]>] extends [never]
        ? unknown
        : { readonly missing: Exclude<keyof T, Keys[number]> }),
  ): Keys => keys;
}
