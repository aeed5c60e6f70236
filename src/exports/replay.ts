/**
 * `keel/replay`: re-execute a stored run with the current code against its journal (model
 * replies, tool results and approvals served from it) and report where it diverges.
 *
 * @packageDocumentation
 */
export {
  compareJournals,
  replayRun,
  type ReplayDivergence,
  type ReplayReport,
} from '../engine/index.js';
