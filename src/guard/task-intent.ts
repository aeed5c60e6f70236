import type { ContextText } from './call-review.js';

/**
 * The words a task uses when it asks for a tool, when nobody declared them: each word of the
 * tool's name (`send_email`: send, email) and the first word of its description (its verb:
 * "Transfer money to an IBAN": transfer), stemmed, without words every task says.
 *
 * ```ts
 * toolIntentWords('place_order', 'Order an item') // ['place', 'order']
 * ```
 */
export function toolIntentWords(name: string, description = ''): string[] {
  const words = name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .split(/[^\p{L}\p{N}]+/u)
    .concat(description.match(WORD)?.slice(0, 1) ?? []);
  const stems = new Set<string>();
  for (const word of words) {
    const lower = word.toLowerCase();
    if (lower.length < 3 || GENERIC.has(lower)) continue;
    stems.add(stem(lower));
  }
  return [...stems];
}

/**
 * The stems of a text's words, with the tool words a few common task verbs imply (`pay`:
 * money, transfer; `reply`, `tell` (not `tell me`): send, email, message): what a tool's
 * intent words are looked up in.
 */
export function textStems(text: string): Set<string> {
  const stems = new Set<string>();
  const words = text.toLowerCase().match(WORD) ?? [];
  words.forEach((word, index) => {
    const stemmed = stem(word);
    stems.add(stemmed);
    // "Tell Bob" asks for a message; "tell me" asks for an answer.
    if (stemmed === 'tell' && ['me', 'us'].includes(words[index + 1] ?? '')) return;
    for (const implied of IMPLIES.get(stemmed) ?? []) stems.add(implied);
  });
  return stems;
}

/**
 * A word reduced so that its common forms meet: `emails`, `emailed`, `emailing` are `email`;
 * `share`, `shared`, `sharing` are `shar`; `payment` is `pay`. Crude on purpose: it only has to
 * meet a tool's own words.
 */
export function stem(word: string): string {
  let out = word;
  if (out.length > 4 && out.endsWith('ies')) out = `${out.slice(0, -3)}y`;
  else if (out.length > 5 && out.endsWith('ing')) out = out.slice(0, -3);
  else if (out.length > 4 && out.endsWith('ed')) out = out.slice(0, -2);
  else if (out.length > 5 && out.endsWith('ment')) out = out.slice(0, -4);
  else if (out.length > 3 && out.endsWith('s') && !out.endsWith('ss')) out = out.slice(0, -1);
  if (out.length > 3 && out.endsWith('e')) out = out.slice(0, -1);
  return out;
}

/**
 * The tools a run called before untrusted content entered it (their results are in the
 * context up to the first untrusted piece, which the call that brought it in also was): the
 * trusted task led to them, so a later call to the same tool is within its intent.
 */
export function toolsUsedBeforeTaint(context: readonly ContextText[]): Set<string> {
  const used = new Set<string>();
  for (const piece of context) {
    const source = piece.provenance.source;
    if (source.startsWith('tool:')) used.add(source.slice('tool:'.length));
    if (piece.provenance.trust === 'untrusted') break;
  }
  return used;
}

const WORD = /[\p{L}\p{N}]+/gu;
// A task verb and the tool words (stemmed) it asks for although it does not say them.
const IMPLIES = new Map<string, readonly string[]>(
  (
    [
      ['pay', ['money', 'transfer', 'payment', 'send']],
      ['wire', ['money', 'transfer', 'send']],
      ['reply', ['send', 'email', 'mail', 'message']],
      ['respond', ['send', 'email', 'mail', 'message']],
      ['forward', ['send', 'email', 'mail', 'message']],
      ['mail', ['send', 'email']],
      ['email', ['send', 'mail']],
      ['message', ['send']],
      ['tell', ['send', 'message', 'email', 'mail']],
      ['book', ['reserve', 'reservation']],
      ['publish', ['post']],
      ['invite', ['add']],
      ['remove', ['delete']],
    ] as const
  ).map(([verb, words]) => [stem(verb), words.map(stem)]),
);
// Words of tool names and descriptions that say nothing about what a task asks for.
const GENERIC = new Set([
  'the',
  'and',
  'for',
  'with',
  'from',
  'into',
  'get',
  'set',
  'run',
  'make',
  'new',
  'tool',
  'item',
  'items',
  'data',
  'info',
  'user',
  'users',
  'api',
]);
