import { createHash } from 'node:crypto';

/** A pattern of secret text found anywhere in a string (a card number, a national id). */
export interface Redactor {
  /** Shown in place of the match: `[redacted:<name>]`. */
  readonly name: string;
  /** Global or not, every match is replaced. Keep it linear: no nested quantifiers. */
  readonly pattern: RegExp;
  /** A further check on a match (a checksum); a match it rejects stays. */
  readonly accept?: ((match: string) => boolean) | undefined;
}

/** Whether the digits of `text` pass the Luhn checksum (payment card numbers). */
function luhn(text: string): boolean {
  const digits = text.replace(/\D/g, '');
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Built-in redactors, as examples to add to `createRuntime({ redact })`: payment card numbers
 * (13 to 19 digits, spaces or dashes between groups, Luhn-checked) and US social security
 * numbers (`123-45-6789`).
 *
 * ```ts
 * createRuntime({ store, agents, redact: [redactors.cardNumber, redactors.nationalId] });
 * ```
 */
export const redactors = Object.freeze({
  cardNumber: Object.freeze({
    name: 'card_number',
    pattern: /\b\d(?:[ -]?\d){12,18}\b/g,
    accept: luhn,
  }) satisfies Redactor,
  nationalId: Object.freeze({
    name: 'national_id',
    pattern: /\b\d{3}-\d{2}-\d{4}\b/g,
  }) satisfies Redactor,
});

/** What to redact in a value: whole fields by path, and patterns in any string. */
export interface SecretMarks {
  /** Field paths (`card.number`, `cards[].number`): the whole value goes. */
  readonly paths?: readonly string[] | undefined;
  readonly redactors?: readonly Redactor[] | undefined;
  /**
   * Known secret values (those a journal's secret fields held), replaced wherever they occur
   * inside any string: a card number the model repeated in its text, a token in a chat input.
   * Values shorter than `MIN_SECRET_VALUE` characters are left to `paths`.
   */
  readonly values?: readonly string[] | undefined;
  /**
   * When set, a redacted value is replaced by `[redacted <digest>]`, the digest of the value
   * salted with this: equal values stay comparable, and the value cannot be read back.
   */
  readonly salt?: string | undefined;
}

/** Known secret values shorter than this are redacted only where their field is. */
export const MIN_SECRET_VALUE = 4;

/** The salted digest of a secret value, as written in its place. */
export function secretDigest(value: unknown, salt: string): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `sha256:${createHash('sha256').update(`${salt}\n${text}`).digest('hex').slice(0, 32)}`;
}

/**
 * A copy of `value` with its secrets replaced: the fields `paths` name entirely, and every match
 * of a redactor inside any string. The original is untouched.
 *
 * ```ts
 * redactSecrets({ card: { number: '4111 1111 1111 1111' } }, { paths: ['card.number'] })
 * // { card: { number: '[redacted]' } }
 * ```
 */
export function redactSecrets(value: unknown, marks: SecretMarks): unknown {
  const { paths = [], redactors: patterns = [], salt } = marks;
  // Longest first: a value that contains another goes whole.
  const values = [...new Set(marks.values ?? [])]
    .filter((secret) => secret.length >= MIN_SECRET_VALUE)
    .sort((a, b) => b.length - a.length);
  const placeholder = (secret: unknown, name?: string) =>
    `[redacted${name ? `:${name}` : ''}${salt === undefined ? '' : ` ${secretDigest(secret, salt)}`}]`;
  const split = paths.map((path) => path.split('.'));
  // Each pattern compiled once for the whole value, not once per string in it.
  const compiled = patterns.map((redactor) => ({
    redactor,
    everywhere: new RegExp(
      redactor.pattern.source,
      redactor.pattern.flags.includes('g') ? redactor.pattern.flags : `${redactor.pattern.flags}g`,
    ),
    anchored: new RegExp(
      `^(?:${redactor.pattern.source})$`,
      redactor.pattern.flags.replace(/[gy]/g, ''),
    ),
  }));
  // Where a node is matters only when some field goes by its path.
  const byPath = split.length > 0;
  function walk(node: unknown, at: readonly string[]): unknown {
    if (byPath && split.some((path) => matches(path, at))) return placeholder(node);
    if (typeof node === 'string') {
      let text = node;
      for (const secret of values)
        if (text.includes(secret)) text = text.split(secret).join(placeholder(secret));
      for (const { redactor, everywhere, anchored } of compiled) {
        const { accept } = redactor;
        text = text.replace(everywhere, (match) =>
          accept && !accept(match)
            ? acceptedParts(match, anchored, accept, (part) => placeholder(part, redactor.name))
            : placeholder(match, redactor.name),
        );
      }
      return text;
    }
    if (Array.isArray(node)) {
      if (!byPath) return node.map((item) => walk(item, at));
      const last = at.at(-1);
      return node.map((item) => walk(item, [...at.slice(0, -1), `${last ?? ''}[]`]));
    }
    if (node !== null && typeof node === 'object')
      return Object.fromEntries(
        Object.entries(node).map(([key, child]) => [key, walk(child, byPath ? [...at, key] : at)]),
      );
    return node;
  }
  return walk(value, []);
}

/** Longest text a rejected match is searched within for an accepted part of it. */
const MAX_SEARCHED_MATCH = 128;

/**
 * A match its check rejected may hold one it accepts: a card number followed by other digits
 * (`4111 1111 1111 1111 22`) matches as one run that fails the checksum. The parts from the
 * start of one digit group to the end of another are tried, longest first, and each accepted
 * one is replaced. Groups, not every offset: the search stays small on long digit runs.
 */
function acceptedParts(
  match: string,
  anchored: RegExp,
  accept: (part: string) => boolean,
  replace: (part: string) => string,
): string {
  if (match.length > MAX_SEARCHED_MATCH) return match;
  const isDigit = (index: number) =>
    index >= 0 && index < match.length && /\d/.test(match[index] ?? '');
  const starts: number[] = [];
  const ends: number[] = [];
  for (let index = 0; index < match.length; index++) {
    if (isDigit(index) && !isDigit(index - 1)) starts.push(index);
    if (isDigit(index) && !isDigit(index + 1)) ends.push(index + 1);
  }
  let out = '';
  let from = 0;
  for (const start of starts) {
    if (start < from) continue;
    for (const end of [...ends].reverse()) {
      if (end <= start) break;
      const part = match.slice(start, end);
      if (anchored.test(part) && accept(part)) {
        out += match.slice(from, start) + replace(part);
        from = end;
        break;
      }
    }
  }
  return out + match.slice(from);
}

function matches(path: readonly string[], at: readonly string[]): boolean {
  return path.length === at.length && path.every((part, index) => part === at[index]);
}
