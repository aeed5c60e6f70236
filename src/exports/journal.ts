/**
 * `keel/journal`: the journal contract every view is derived from — the event union, its
 * format version, the fold that turns a journal into a run's state, and the limit checks.
 *
 * @packageDocumentation
 */
export {
  JOURNAL_SCHEMA_VERSION,
  LIMIT_NAMES,
  RUN_EVENT_TYPES,
  RUN_STATUSES,
  describeReason,
  foldRun,
  journalRedaction,
  readEvent,
  remainingLimits,
  type ContextAssembly,
  type DecisionEvent,
  type GateReason,
  type InDoubtCall,
  type JournalRedaction,
  type KnownSecrets,
  type LimitName,
  type LimitReached,
  type PendingCall,
  type RunEvent,
  type RunEventType,
  type RunLimits,
  type RunReason,
  type RunSecretSpec,
  type RunState,
  type RunStatus,
  type StoredEvent,
  type UsageTotals,
} from '../journal/index.js';
