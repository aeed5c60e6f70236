/**
 * `keel/observe`: everything derived from the journal — OpenTelemetry GenAI spans and their
 * export, costs per agent, model and day, baselines and anomaly alerts, re-pricing stored runs.
 *
 * @packageDocumentation
 */
export {
  ALERT_KINDS,
  BASELINE_METRICS,
  DEFAULT_ALERT_RULES,
  GEN_AI_SEMCONV_VERSION,
  agentBaselines,
  alertMonitor,
  costTotals,
  detectAlerts,
  otlpExporter,
  otlpExporterFromEnv,
  runMetrics,
  scanAlerts,
  spanTree,
  spansFromJournal,
  traceExport,
  type Alert,
  type AlertKind,
  type AlertMonitor,
  type AlertMonitorOptions,
  type AlertNotifier,
  type AlertRules,
  type Baseline,
  type BaselineMetric,
  type CostLine,
  type CostTotals,
  type ExportStats,
  type JournalEntry,
  type JournalEvent,
  type JournalSource,
  type OtlpExporterOptions,
  type RunMetrics,
  type RunObserver,
  type SpanExporter,
  type SpanNode,
  type SpanOptions,
  type Threshold,
  type ToolLine,
  type TraceSpan,
} from '../observe/index.js';
export {
  alertNotification,
  alertsVia,
  repriceRuns,
  type RepriceRunsOptions,
  type RepricedRun,
} from '../engine/index.js';
