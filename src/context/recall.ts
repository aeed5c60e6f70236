/** A stored result that may be recalled, with the terms it is indexed by. */
export interface RecallCandidate<T> {
  readonly item: T;
  readonly terms: ReadonlySet<string>;
}

const STOP_WORDS = new Set(
  'the and for are but not you all any can had her was one our out has his how its may new now see two who did get let put say she too use that with this from have what when will your they them then than been were which their there about would could should into more some only also such each other after before where while'.split(
    ' ',
  ),
);

/**
 * The terms a text is indexed and queried by: lowercased words and numbers of three or more
 * characters, minus common English words.
 *
 * ```ts
 * [...termsOf('The Zephyr vault code is 7431')]; // ['zephyr', 'vault', 'code', '7431']
 * ```
 */
export function termsOf(text: string): Set<string> {
  const terms = new Set<string>();
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}_]{3,}/gu)) {
    const term = match[0];
    if (!STOP_WORDS.has(term)) terms.add(term);
  }
  return terms;
}

/**
 * Rank candidates by relevance to a goal: the sum of the inverse document frequency of each
 * goal term the candidate holds, so rare shared words (a name, a code) outweigh common ones.
 * Candidates sharing nothing with the goal are left out; ties keep the later candidate first.
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
      weights.set(term, Math.log(candidates.length / documents));
    }
  }
  const scored: { item: T; score: number; order: number }[] = [];
  candidates.forEach((candidate, order) => {
    let score = 0;
    for (const [term, weight] of weights) if (candidate.terms.has(term)) score += weight;
    if (score > 0) scored.push({ item: candidate.item, score, order });
  });
  scored.sort((a, b) => b.score - a.score || b.order - a.order);
  return scored.map((entry) => entry.item);
}
