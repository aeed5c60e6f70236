import type { ContextText } from './call-review.js';

/**
 * Where one argument value could have come from, strongest first:
 * - `trusted`: it appears in trusted content (instructions, the task, a trusted tool's output,
 *   a model turn taken before any untrusted content);
 * - `allow_listed`: it is in the tool's allow-list for that argument (an address book);
 * - `untrusted`: it appears only in untrusted content (an email, a web page, a file);
 * - `ungrounded`: it appears nowhere: the model made it up. After untrusted content entered
 *   the run, a made-up value is as good as the attacker's.
 */
export const ARGUMENT_ORIGINS = ['trusted', 'allow_listed', 'untrusted', 'ungrounded'] as const;
/** Where an argument's value came from: trusted content, an allow-list, untrusted content, or nowhere the run saw. */
export type ArgumentOrigin = (typeof ARGUMENT_ORIGINS)[number];

/** One scalar inside a call's arguments, with its path (`to`, `items[0].iban`). */
export interface ArgumentLeaf {
  readonly path: string;
  readonly value: string | number | boolean | null;
}

/** Every scalar of `input`, depth first, with its path. */
export function argumentLeaves(input: unknown, path = ''): ArgumentLeaf[] {
  if (input === null || ['string', 'number', 'boolean'].includes(typeof input))
    return [{ path, value: input as ArgumentLeaf['value'] }];
  if (Array.isArray(input))
    return input.flatMap((item, index) => argumentLeaves(item, `${path}[${index}]`));
  if (typeof input === 'object')
    return Object.entries(input as Record<string, unknown>).flatMap(([key, value]) =>
      argumentLeaves(value, path === '' ? key : `${path}.${key}`),
    );
  return [];
}

/** Whether a leaf sits at or under `sink` (`to` covers `to[0]` and `to.address`). */
export function underPath(leaf: string, sink: string): boolean {
  return (
    leaf === sink ||
    leaf.startsWith(`${sink}.`) ||
    leaf.startsWith(`${sink}[`) ||
    // `items[].iban` names the field in every element.
    (sink.includes('[]') && leaf.replace(/\[\d+\]/g, '[]') === sink)
  );
}

/** The run's context split by trust and lower-cased once per step. */
interface Grounding {
  readonly trusted: string;
  readonly untrusted: string;
}

const groundings = new WeakMap<readonly ContextText[], Grounding>();

function groundingOf(context: readonly ContextText[]): Grounding {
  const cached = groundings.get(context);
  if (cached) return cached;
  const trusted: string[] = [];
  const untrusted: string[] = [];
  for (const piece of context)
    (piece.provenance.trust === 'trusted' ? trusted : untrusted).push(piece.text.toLowerCase());
  // NUL never occurs inside a value, so no match spans two pieces.
  const grounding = { trusted: trusted.join('\u0000'), untrusted: untrusted.join('\u0000') };
  groundings.set(context, grounding);
  return grounding;
}

/**
 * Where `value` could have come from, given what the run has seen. A value is grounded in a
 * text when it occurs there as a whole token: `e@example.com` is not grounded by
 * `alice@example.com`, `100` is not grounded by `1000` or `100.5`. Booleans, null and empty
 * strings carry no data and count as trusted.
 */
export function originOf(
  value: ArgumentLeaf['value'],
  context: readonly ContextText[],
  allowList?: readonly (string | number)[],
): ArgumentOrigin {
  if (value === null || typeof value === 'boolean') return 'trusted';
  const grounding = groundingOf(context);
  if (typeof value === 'string') {
    const length = value.trim().length;
    if (length === 0) return 'trusted';
    // Lower-casing never shortens a string: a value longer than every text it could be found
    // in is found nowhere, and is not lower-cased (a copy of a 100 KB argument) to learn that.
    if (length > grounding.trusted.length && length > grounding.untrusted.length)
      return allowList?.some((allowed) => sameValue(allowed, value)) === true
        ? 'allow_listed'
        : 'ungrounded';
  }
  const needles = needlesOf(value);
  if (needles.length === 0) return 'trusted';
  if (needles.some((needle) => occursAsToken(grounding.trusted, needle))) return 'trusted';
  if (allowList?.some((allowed) => sameValue(allowed, value))) return 'allow_listed';
  if (needles.some((needle) => occursAsToken(grounding.untrusted, needle))) return 'untrusted';
  return 'ungrounded';
}

/** The spellings a value may have in text: `12.5` also as `12.50`. */
function needlesOf(value: string | number): string[] {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return [String(value)];
    const plain = String(value);
    const cents = value.toFixed(2);
    return plain === cents ? [plain] : [plain, cents];
  }
  const trimmed = value.trim().toLowerCase();
  return trimmed === '' ? [] : [trimmed];
}

function sameValue(allowed: string | number, value: string | number): boolean {
  return typeof allowed === 'string' && typeof value === 'string'
    ? sameText(allowed, value)
    : allowed === value;
}

/**
 * Whether two strings are equal trimmed and lower-cased. Lower-casing never shortens a string,
 * so a `value` longer than `expected` lower-cased is not copied to learn that it differs.
 */
export function sameText(expected: string, value: string): boolean {
  const lower = expected.trim().toLowerCase();
  const trimmed = value.trim();
  return trimmed.length <= lower.length && lower === trimmed.toLowerCase();
}

const TOKEN_CHAR = /[\p{L}\p{N}@_-]/u;
/** Characters that continue a token when followed by a letter or digit (`a.b`, `x/y`, `1,5`). */
const JOINER = /[./:,+]/;

function occursAsToken(haystack: string, needle: string): boolean {
  let from = 0;
  for (;;) {
    const at = haystack.indexOf(needle, from);
    if (at < 0) return false;
    if (boundaryBefore(haystack, at, needle) && boundaryAfter(haystack, at + needle.length, needle))
      return true;
    from = at + 1;
  }
}

function boundaryBefore(haystack: string, at: number, needle: string): boolean {
  if (at === 0 || !isTokenChar(needle[0])) return true;
  const before = haystack[at - 1] ?? '';
  if (TOKEN_CHAR.test(before)) return false;
  // `example.com` inside `mail.example.com`, `5` inside `0.5` or `-5` are other values.
  return !(JOINER.test(before) && TOKEN_CHAR.test(haystack[at - 2] ?? ''));
}

function boundaryAfter(haystack: string, end: number, needle: string): boolean {
  if (end === haystack.length || !isTokenChar(needle[needle.length - 1])) return true;
  const after = haystack[end] ?? '';
  if (TOKEN_CHAR.test(after)) return false;
  // A sentence's full stop ends a token; `.com` or `.5` continue it.
  return !(JOINER.test(after) && TOKEN_CHAR.test(haystack[end + 1] ?? ''));
}

function isTokenChar(char: string | undefined): boolean {
  return char !== undefined && TOKEN_CHAR.test(char);
}
