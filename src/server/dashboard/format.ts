import { describeReason, type RunReason } from '../../journal/index.js';

/** How the dashboard writes figures: one place, so every page reads the same. */

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'unknown';
  if (value === 0) return '$0';
  return `$${value.toFixed(value < 0.01 ? 6 : 4)}`;
}

export function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** UTC, to the second: every viewer reads the same time whatever their zone. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** At most `max` characters on one line. */
export function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** Pretty JSON for a `<pre>`: rendered as text, never as markup. */
export function prettyJson(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? 'undefined';
  } catch {
    return '(not JSON)';
  }
}

/** Which model ran, in words that never let a simulated run pass for a real one. */
export function describeModel(model: { provider: string; modelId: string }): string {
  return model.provider === 'simulator'
    ? `${model.modelId} (scripted simulator — no real model was called)`
    : `${model.provider}:${model.modelId}`;
}

/**
 * Why a run ended, in words; a stored reason this version cannot describe (an older or newer
 * journal's) shows as its type instead of failing the page.
 */
export function reasonText(reason: unknown): string {
  try {
    return describeReason(reason as RunReason);
  } catch {
    const type = (reason as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? type : 'unknown';
  }
}
