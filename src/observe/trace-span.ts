import { digest } from '../core/index.js';
import { ATTR, KEEL_EVENT } from './semconv.js';

export const SPAN_KINDS = ['internal', 'client'] as const;
export type SpanKind = (typeof SPAN_KINDS)[number];

export type AttributeValue = string | number | boolean | readonly string[];
export type Attributes = Record<string, AttributeValue>;

export interface SpanEvent {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: Attributes;
}

export interface SpanLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Attributes;
}

export interface SpanStatus {
  readonly code: 'unset' | 'ok' | 'error';
  readonly message?: string | undefined;
}

/**
 * One span, derived from a run's journal. Plain data: ids are hex (32 characters for the
 * trace, 16 for a span), times are ms since the epoch. Ids are a function of the run id and
 * the span's place in the run, so deriving the same journal twice gives the same spans.
 */
export interface TraceSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Attributes;
  readonly events: readonly SpanEvent[];
  readonly links: readonly SpanLink[];
  readonly status: SpanStatus;
}

/** A span with its children, for nested views (`keel trace --json`). */
export interface SpanNode extends TraceSpan {
  readonly children: readonly SpanNode[];
}

/** The trace id of a run: every span of the run shares it. */
export function traceIdOf(runId: string): string {
  return digest(`keel.trace:${runId}`);
}

/**
 * The span id of the span at `key` in a run (`run` is the run's `invoke_agent` span). Two
 * 32-bit FNV-1a hashes of the run and key: ids only need to be distinct within a trace, and
 * this is several times cheaper than a cryptographic digest per span.
 */
export function spanIdOf(runId: string, key: string): string {
  const text = `${runId}:${key}`;
  let high = 0x811c9dc5;
  let low = 0x050c5d1f;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    high = Math.imul(high ^ code, 0x01000193);
    low = Math.imul(low ^ code, 0x01000193) ^ (high >>> 15);
  }
  const hex = (value: number): string => (value >>> 0).toString(16).padStart(8, '0');
  const id = hex(high) + hex(low);
  // An all-zero span id is invalid in OTLP.
  return id === '0000000000000000' ? '0000000000000001' : id;
}

/**
 * Nest spans under their parents; roots are spans whose parent is not among them. Children
 * keep start order.
 *
 * ```ts
 * const [root] = spanTree(spansFromJournal(runId, entries));
 * ```
 */
export function spanTree(spans: readonly TraceSpan[]): SpanNode[] {
  const nodes = new Map<string, SpanNode & { children: SpanNode[] }>();
  for (const span of spans) nodes.set(span.spanId, { ...span, children: [] });
  const roots: SpanNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentSpanId === undefined ? undefined : nodes.get(node.parentSpanId);
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: SpanNode, b: SpanNode): number => a.startMs - b.startMs;
  for (const node of nodes.values()) node.children.sort(byStart);
  return roots.sort(byStart);
}

/**
 * The spans with `alerts` added as `keel.alert` events on the root (`invoke_agent`) span.
 *
 * ```ts
 * const spans = withAlerts(spansFromJournal(runId, entries), await alertsForRun(store, runId));
 * ```
 */
export function withAlerts(
  spans: readonly TraceSpan[],
  alerts: readonly {
    readonly kind: string;
    readonly metric: string;
    readonly value: number;
    readonly threshold: number;
    readonly at: number;
    readonly message: string;
  }[],
): TraceSpan[] {
  if (alerts.length === 0) return [...spans];
  return spans.map((span) =>
    span.parentSpanId !== undefined
      ? span
      : {
          ...span,
          events: [
            ...span.events,
            ...alerts.map((alert) => ({
              name: KEEL_EVENT.alert,
              timeMs: alert.at,
              attributes: {
                [ATTR.alertKind]: alert.kind,
                [ATTR.alertMetric]: alert.metric,
                [ATTR.alertValue]: alert.value,
                [ATTR.alertThreshold]: alert.threshold,
                [ATTR.alertMessage]: alert.message,
              },
            })),
          ],
        },
  );
}
