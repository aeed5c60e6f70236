export { KeelError, KEEL_ERROR_CODES, type KeelErrorCode } from './keel-error.js';
export { canonicalJson, digest } from './canonical-json.js';
export {
  TRUST_LEVELS,
  TRUSTED_AGENT,
  TRUSTED_RUNTIME,
  TRUSTED_TASK,
  combineTrust,
  type Provenance,
  type Trust,
} from './provenance.js';
export { systemClock, type Clock } from './clock.js';
export { parseDuration } from './duration.js';
export { sleep, untilAborted, type AbortableOptions } from './abort.js';
export { MAX_TIMER_MS, timerDelay } from './timer-delay.js';
export { MAX_LIST_LIMIT } from './list-limit.js';
export { allFieldsOf, fieldFault, refuseUnknownFields, type FieldFault } from './known-fields.js';
export { quarantineRef, resolveQuarantineRefs } from './quarantine-ref.js';
export {
  redactSecrets,
  redactors,
  secretDigest,
  type Redactor,
  type SecretMarks,
} from './secrets.js';
export { once } from './once.js';
export { seededRandom } from './seeded-random.js';
