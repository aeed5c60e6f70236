import { argumentLeaves, underPath } from './argument-origins.js';

/**
 * Which parts of a tool's output are private: all of it (`true`) or the fields at these paths
 * (`['code', 'profile.passport', 'cards[].number']`).
 */
export type PrivateMark = true | readonly string[];

/** One private tool result: its content as the run holds it and what of it is private. */
export interface PrivateResult {
  readonly content: string;
  readonly mark: PrivateMark;
}

const MIN_VALUE = 4;
const MAX_VALUE = 200;
const ESCAPES = /(?:%[0-9a-f]{2})+/g;
const TOKEN = /[\p{L}\p{N}][\p{L}\p{N}@._+-]*[\p{L}\p{N}]/gu;

/**
 * The values of private tool results a guard looks for in arguments, URLs and answers,
 * lower-cased: each private field's value (4 to 200 characters, numbers included), and inside
 * longer text every token that carries a digit (codes, account and card numbers) or is 12
 * characters or longer (keys, passwords). Plain words are not values: "Budget" in a private
 * document does not make every later "budget" private.
 *
 * ```ts
 * privateValues([{ content: '{"code":"482913","note":"expires soon"}', mark: ['code'] }])
 * // ['482913']
 * ```
 */
export function privateValues(results: readonly PrivateResult[]): string[] {
  const found = new Set<string>();
  for (const { content, mark } of results) {
    let parsed: unknown = content;
    try {
      parsed = JSON.parse(content);
    } catch {
      // Plain text: all of it is the value.
    }
    for (const leaf of argumentLeaves(parsed)) {
      if (mark !== true && !mark.some((path) => underPath(stripIndexes(leaf.path), path))) continue;
      if (typeof leaf.value === 'number') addValue(found, String(leaf.value));
      else if (typeof leaf.value === 'string') addValue(found, leaf.value);
    }
  }
  return [...found];
}

function addValue(found: Set<string>, raw: string): void {
  const value = raw.trim().toLowerCase();
  if (value.length < MIN_VALUE) return;
  if (value.length <= MAX_VALUE && !/\s/.test(value)) {
    found.add(value);
    return;
  }
  if (value.length <= 40) found.add(value);
  for (const token of value.match(TOKEN) ?? [])
    if (token.length >= MIN_VALUE && (/\d/.test(token) || token.length >= 12)) found.add(token);
}

/** `cards[2].number` → `cards[].number`, so a mark names a field of every element. */
function stripIndexes(path: string): string {
  return path.replace(/\[\d+\]/g, '[]');
}

/**
 * The private values `text` carries, looked for as written and URL-decoded (a value in a query
 * string is often percent-encoded). Case-insensitive.
 */
export function privateValuesIn(text: string, values: readonly string[]): string[] {
  if (values.length === 0) return [];
  const lower = text.toLowerCase();
  let decoded = lower;
  // Without `%` or `+` decoding changes nothing: a long text is not copied twice more for it.
  // Each run of escapes is decoded on its own, so a stray `%` elsewhere (`100% sure`) does not
  // leave the whole text undecoded.
  if (lower.includes('%') || lower.includes('+'))
    decoded = lower.replace(/\+/g, ' ').replace(ESCAPES, (escapes) => {
      try {
        return decodeURIComponent(escapes);
      } catch {
        // Not UTF-8: looked for as written.
        return escapes;
      }
    });
  return values.filter((value) => lower.includes(value) || decoded.includes(value));
}
