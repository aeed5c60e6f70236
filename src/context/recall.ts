import { termWeight } from '../store/index.js';

/** A stored result that may be recalled, with the terms it is indexed by. */
export interface RecallCandidate<T> {
  readonly item: T;
  readonly terms: ReadonlySet<string>;
}

const STOP_WORDS = new Set(
  'am an as at be by do go he if in is it me my no of on or so to up us we the and for are but not you all any can had her was one our out has his how its may new now see two who did get let put say she too use that with this from have what when will your they them then than been were which their there about would could should into more some only also such each other after before where while'.split(
    ' ',
  ),
);

/** What may stand between a label and its identifier: `box 3`, `PR #12`, `PR-12`, `room: A7`. */
const LABEL_GAP = /^[\s#:-]{1,3}$/u;

/**
 * The terms a text is indexed and queried by: lowercased words of two or more characters
 * minus common English words, every word holding a digit however short (`3`, `a7`, `v2`), and
 * each identifier with the word labelling it as a phrase (`box 3`, `pr 12`), so a question
 * about box 3 finds box 3 rather than every box.
 *
 * ```ts
 * [...termsOf('The Zephyr vault code is 7431')]; // ['zephyr', 'vault', 'code', '7431']
 * [...termsOf('What is in box 3?')]; // ['box', '3', 'box 3']
 * ```
 */
export function termsOf(text: string): Set<string> {
  const terms = new Set<string>();
  let label: string | undefined;
  let labelEnd = 0;
  for (const match of text.matchAll(/[\p{L}\p{N}_]+/gu)) {
    const word = match[0].toLowerCase();
    if (/\p{N}/u.test(word)) {
      terms.add(word);
      if (label !== undefined && LABEL_GAP.test(text.slice(labelEnd, match.index))) {
        terms.add(`${label} ${word}`);
      }
      label = undefined;
      continue;
    }
    const kept = word.length >= 2 && !STOP_WORDS.has(word);
    if (kept) terms.add(word);
    label = kept ? word : undefined;
    labelEnd = match.index + match[0].length;
  }
  return terms;
}

/**
 * Rank candidates by relevance to a goal: the sum over goal terms a candidate holds of the
 * term's inverse document frequency times its weight (`termWeight`: phrases and identifiers
 * count more), so rare shared terms (a name, a code, `box 3`) outweigh common ones.
 * Candidates sharing nothing with the goal are left out; ties go to the candidate holding
 * more goal terms, then the one with fewer terms in all (the denser match), then the later.
 *
 * ```ts
 * rankByRelevance(termsOf('zephyr vault'), candidates).slice(0, 3);
 * ```
 */
export function rankByRelevance<T>(
  goal: ReadonlySet<string>,
  candidates: readonly RecallCandidate<T>[],
): T[] {
  if (goal.size === 0 || candidates.length === 0) return [];
  const weights = new Map<string, number>();
  for (const term of goal) {
    let documents = 0;
    for (const candidate of candidates) if (candidate.terms.has(term)) documents += 1;
    // A term every candidate holds tells them apart not at all.
    if (documents > 0 && documents < candidates.length) {
      weights.set(term, termWeight(term.split(' ')) * Math.log(candidates.length / documents));
    }
  }
  const scored: { item: T; score: number; matched: number; size: number; order: number }[] = [];
  candidates.forEach((candidate, order) => {
    let score = 0;
    let matched = 0;
    for (const [term, weight] of weights) {
      if (!candidate.terms.has(term)) continue;
      score += weight;
      matched += 1;
    }
    if (score > 0)
      scored.push({ item: candidate.item, score, matched, size: candidate.terms.size, order });
  });
  scored.sort(
    (a, b) => b.score - a.score || b.matched - a.matched || a.size - b.size || b.order - a.order,
  );
  return scored.map((entry) => entry.item);
}
