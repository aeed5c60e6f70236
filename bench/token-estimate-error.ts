// How far the pre-flight's character estimate is from the exact tokenizer count, and how much
// room its bound leaves, over requests made of this repository's own text (README paragraphs
// and source files: prose, tables, code, JSON).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRUSTED_TASK } from '../src/core/index.js';
import { countRequestTokens, roughRequestTokens, type ModelRequest } from '../src/model/index.js';
import { round } from './stats.js';

export interface TokenEstimateErrorResult {
  readonly requests: number;
  /** |estimate − exact| / exact: median and 90th percentile. */
  readonly medianError: number;
  readonly p90Error: number;
  /** estimate / exact over all requests together. */
  readonly totalRatio: number;
  /** atMost / exact: the smallest (never below 1) and the median. */
  readonly minBoundRatio: number;
  readonly medianBoundRatio: number;
}

export function measureTokenEstimateError(root = process.cwd()): TokenEstimateErrorResult {
  const texts = [
    ...readFileSync(join(root, 'README.md'), 'utf8').split(/\n\n+/),
    ...readdirSync(join(root, 'src/model'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(join(root, 'src/model', name), 'utf8')),
  ].filter((text) => text.trim().length > 40);
  const errors: number[] = [];
  const bounds: number[] = [];
  let estimated = 0;
  let exact = 0;
  for (const text of texts) {
    const request: ModelRequest = {
      system: 'Answer from the documents.',
      messages: [{ role: 'user', parts: [{ type: 'text', text, provenance: TRUSTED_TASK }] }],
      tools: [],
    };
    const counted = countRequestTokens(request, 'o200k_base').tokens;
    const rough = roughRequestTokens(request);
    errors.push(Math.abs(rough.estimate - counted) / counted);
    bounds.push(rough.atMost / counted);
    estimated += rough.estimate;
    exact += counted;
  }
  const sorted = (values: number[]) => [...values].sort((left, right) => left - right);
  const at = (values: number[], q: number) =>
    sorted(values)[Math.floor(q * (values.length - 1))] ?? Number.NaN;
  return {
    requests: texts.length,
    medianError: round(at(errors, 0.5), 3),
    p90Error: round(at(errors, 0.9), 3),
    totalRatio: round(estimated / exact, 3),
    minBoundRatio: round(Math.min(...bounds), 2),
    medianBoundRatio: round(at(bounds, 0.5), 2),
  };
}

export function renderTokenEstimateError(result: TokenEstimateErrorResult): string {
  return [
    `pre-flight character estimate vs o200k_base, ${result.requests} requests of this repository's text: |error| median ${Math.round(result.medianError * 100)}%, p90 ${Math.round(result.p90Error * 100)}%, all together ${result.totalRatio}x the exact count`,
    `  the bound that skips the tokenizer: ${result.medianBoundRatio}x the exact count (median), never below ${result.minBoundRatio}x`,
  ].join('\n');
}
