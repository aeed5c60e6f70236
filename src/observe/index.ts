export {
  ATTR,
  CAPTURE_CONTENT_ENV,
  GEN_AI_OPERATION,
  GEN_AI_SCHEMA_URL,
  GEN_AI_SEMCONV_VERSION,
  KEEL_EVENT,
} from './semconv.js';
export type { JournalEntry, JournalEvent, JournalSource, ObservedRun } from './journal.js';
export {
  SPAN_KINDS,
  spanIdOf,
  spanTree,
  traceIdOf,
  withAlerts,
  type AttributeValue,
  type Attributes,
  type SpanEvent,
  type SpanKind,
  type SpanLink,
  type SpanNode,
  type SpanStatus,
  type TraceSpan,
} from './trace-span.js';
export {
  DEFAULT_MAX_CONTENT_CHARS,
  EVENT_SPAN_MAPPINGS,
  spansFromJournal,
  type ChatInput,
  type EventMapping,
  type SpanOptions,
  type TraceBuilder,
} from './journal-spans.js';
export { OTLP_PROTOCOLS, type OtlpProtocol, type OtlpTls } from './otlp-transport.js';
export {
  otlpExporter,
  otlpExporterFromEnv,
  type ExportStats,
  type OtlpExporterOptions,
  type SpanExporter,
} from './otlp-exporter.js';
export { DEFAULT_PARTIAL_EXPORT_EVENTS, traceExport, type RunObserver } from './run-observer.js';
export { observeEvents, observeModelRequests } from './observe-events.js';
export { chatInput, type ObservedCall, type ObservedRequest } from './chat-input.js';
export { costTotals, type CostLine, type CostTotals, type ToolLine } from './cost-totals.js';
export { runMetrics, type RunMetrics } from './run-metrics.js';
export {
  BASELINE_METRICS,
  agentBaselines,
  baselineOf,
  type Baseline,
  type BaselineMetric,
} from './baselines.js';
export {
  ALERT_KINDS,
  DEFAULT_ALERT_RULES,
  detectAlerts,
  resolveAlertRules,
  type Alert,
  type AlertKind,
  type AlertNotifier,
  type AlertRules,
  type Threshold,
} from './alerts.js';
export { RUNBOOKS, alertRunbook, reasonRunbook, runRunbook, type RunbookName } from './runbooks.js';
export {
  alertMonitor,
  alertsForRun,
  scanAlerts,
  type AlertMonitor,
  type AlertMonitorOptions,
  type AlertMonitorStats,
} from './alert-monitor.js';
