import type { ModelAdapterV1, ModelRequest, ScriptContext } from '../../src/model/index.js';

/*
 * The paged archive the managed-context tests read: large pages of distinct filler, one of
 * which holds a fact the model needs much later.
 */

export const TASK =
  'Read every page of the archive with fetch_page, one page per step, then report.';
export const FACT = 'The Zephyr vault code is 7431.';
export const FACT_PAGE = 12;

/** A large page (~6,000 characters) of distinct filler; page 12 also holds the fact. */
export function pageText(page: number): string {
  const lines = [`Archive page ${page}.`];
  for (let line = 0; lines.join('\n').length < 6_000; line += 1) {
    lines.push(
      `Shipment ${page}-${line}: crate k${(page * 31 + line) % 997} weighed ${(page * 7 + line * 13) % 500} kilograms at dock d${line % 17}.`,
    );
    if (page === FACT_PAGE && line === 20) lines.push(FACT);
  }
  return lines.join('\n');
}

/** The page the latest tool result was, from the conversation the model was sent. */
export function lastPage(context: ScriptContext): number {
  const content = context.lastToolResults.at(-1)?.content ?? '';
  const match = /Archive page (\d+)\./.exec(content);
  return match ? Number(match[1]) : -1;
}

/** Holds every request the model was sent, in order. */
export function recording(model: ModelAdapterV1): {
  model: ModelAdapterV1;
  requests: ModelRequest[];
} {
  const requests: ModelRequest[] = [];
  return {
    requests,
    model: {
      ...model,
      doGenerate(request, options) {
        requests.push(request);
        return model.doGenerate(request, options);
      },
    },
  };
}
