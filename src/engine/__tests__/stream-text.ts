import type { RunStreamEvent } from '../index.js';

/**
 * A consumer's view of each step's reply text from text deltas alone: a catch-up delta or a new
 * attempt replaces what it held, any other delta adds to it. Carried over from `start` (the
 * same consumer before it reconnected).
 */
export function textsFromDeltas(
  events: readonly RunStreamEvent[],
  start: ReadonlyMap<number, { attempt: number; text: string }> = new Map(),
): Map<number, { attempt: number; text: string }> {
  const texts = new Map([...start].map(([step, value]) => [step, { ...value }]));
  for (const event of events) {
    if (event.type !== 'text_delta') continue;
    const held = texts.get(event.step);
    if (event.catchUp || !held || held.attempt !== event.attempt)
      texts.set(event.step, { attempt: event.attempt, text: event.text });
    else held.text += event.text;
  }
  return texts;
}
