import { expect } from 'vitest';
import type { Store } from '../../src/store/index.js';

/** The types of a run's journal events, in order. */
export async function eventTypes(store: Store, runId: string): Promise<string[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event.type);
}

/** The same, after checking that its sequence numbers run 1, 2, 3… with none missing. */
export async function gaplessEventTypes(store: Store, runId: string): Promise<string[]> {
  const journal = await store.readEvents(runId);
  expect(journal.map((entry) => entry.seq)).toEqual(journal.map((_, index) => index + 1));
  return journal.map((entry) => entry.event.type);
}
