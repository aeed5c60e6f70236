import type { ContextText } from './call-review.js';
import type { ToolEffect } from '../tools/index.js';
import { argumentLeaves, originOf } from './argument-origins.js';

/**
 * Why the output monitor flagged a call:
 * - `out_of_scope`: a tool the agent does not have;
 * - `untrusted_destination`: a recipient, URL or account that appears only in untrusted content;
 * - `permission_change`: a call that widens access (invite, share, grant, change a password);
 * - `exfiltration_shape`: an argument shaped like data leaving (a long encoded blob, a
 *   secret-looking string, a URL carrying data in its query).
 */
export const MONITOR_FLAG_KINDS = [
  'out_of_scope',
  'untrusted_destination',
  'permission_change',
  'exfiltration_shape',
] as const;
/** What the output monitor flags: a call out of scope, an untrusted destination, a permission change, an exfiltration shape. */
export type MonitorFlagKind = (typeof MONITOR_FLAG_KINDS)[number];

/**
 * What the monitor does with a kind of flag: `flag` records it (`action_flagged`, an alert),
 * `confirm` also holds the call for a human, `deny` refuses it.
 */
export const MONITOR_ACTIONS = ['flag', 'confirm', 'deny'] as const;
/** What the monitor does with a flag: record it, ask a human, or refuse the call. */
export type MonitorAction = (typeof MONITOR_ACTIONS)[number];

/** One reason a call does not fit the task. Plain JSON. */
export interface MonitorFlag {
  readonly kind: MonitorFlagKind;
  /** The argument path it is about, when it is about one. */
  readonly argument?: string | undefined;
  readonly detail: string;
}

/** A call as the monitor sees it. */
export interface MonitoredCall {
  readonly toolName: string;
  readonly effect: ToolEffect;
  readonly input: unknown;
  /** What the run saw before the call, with provenance (as the guard grounds arguments). */
  readonly context: readonly ContextText[];
  /** The agent's own tools: anything else is out of scope. */
  readonly scope: readonly string[];
}

// Every check on an argument is linear in its length: no nested or adjacent unbounded
// quantifiers that can backtrack over the same characters.
const URL_PREFIX = /^(https?|ftp):\/\//i;
const WHITESPACE = /\s/;
const IBAN = /^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$/;
const IBAN_MAX = 34;
/**
 * A recipient, URL or account: values that decide where an effect lands.
 *
 * ```ts
 * looksLikeDestination('bob@example.com') // true
 * looksLikeDestination('see you at 10') // false
 * ```
 */
export function looksLikeDestination(value: string): boolean {
  const trimmed = value.trim();
  if (isEmail(trimmed) || isUrl(trimmed)) return true;
  // An IBAN is 34 characters at most, in groups: longer text is not one (and is not copied).
  if (trimmed.length > IBAN_MAX * 4) return false;
  const compact = trimmed.replace(/\s+/g, '');
  return compact.length <= IBAN_MAX && IBAN.test(compact);
}

/** `local@domain.tld`: one `@`, no whitespace, a dot inside the domain (not first or last). */
function isEmail(value: string): boolean {
  const at = value.indexOf('@');
  if (at <= 0 || at !== value.lastIndexOf('@') || WHITESPACE.test(value)) return false;
  const domain = value.slice(at + 1);
  const dot = domain.indexOf('.', 1);
  return dot !== -1 && dot < domain.length - 1;
}

/** An http(s) or ftp URL: the scheme, `//`, then at least one character, no whitespace. */
function isUrl(value: string): boolean {
  const prefix = URL_PREFIX.exec(value);
  return prefix !== null && value.length > prefix[0].length && !WHITESPACE.test(value);
}

const PERMISSION_TOOL =
  /(invite|share|grant|permission|role|admin|password|credential|add_?member|add_?user|collaborator|access)/i;
const PERMISSION_ARGUMENT = /^(role|permission|permissions|access|password|new_?password)$/i;
/**
 * A long encoded blob (64 or more base64/base64url characters in a row) or a long hex word (a
 * `\w+` of 40 or more hex digits) in `value`, found in one pass over its characters.
 */
function encodedShape(value: string): 'blob' | 'hex' | undefined {
  let run = 0;
  let word = 0;
  let hex = true;
  let hexWord = false;
  for (let index = 0; index <= value.length; index += 1) {
    const code = index < value.length ? value.charCodeAt(index) : -1;
    const inWord = isWordCode(code);
    run = inWord || code === 43 || code === 47 || code === 61 || code === 45 ? run + 1 : 0;
    if (run >= 64) return 'blob';
    if (inWord) {
      word += 1;
      hex &&=
        (code >= 48 && code <= 57) || (code >= 97 && code <= 102) || (code >= 65 && code <= 70);
    } else {
      if (word >= 40 && hex) hexWord = true;
      word = 0;
      hex = true;
    }
  }
  return hexWord ? 'hex' : undefined;
}

/** `\w`: an ASCII letter, digit or underscore. */
function isWordCode(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95
  );
}
const SECRET =
  /\b(sk-[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abpr]-[A-Za-z0-9-]{10,})\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\b(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*\S+/i;

/**
 * Flag a call that does not fit the task. Its flags are journaled as `action_flagged` and raise
 * an alert; what they do to the call (nothing, a human's confirmation, a refusal) is the
 * agent's `untrusted.monitor` setting, applied by `reviewCall`. Pure and fast.
 *
 * ```ts
 * const flags = monitorCall({ toolName: 'send_email', effect: 'egress', input, context, scope });
 * ```
 */
export function monitorCall(call: MonitoredCall): MonitorFlag[] {
  const flags: MonitorFlag[] = [];
  if (!call.scope.includes(call.toolName))
    flags.push({
      kind: 'out_of_scope',
      detail: `${call.toolName} is not one of the agent's tools`,
    });
  if (PERMISSION_TOOL.test(call.toolName))
    flags.push({ kind: 'permission_change', detail: `${call.toolName} widens access` });
  const leaves = argumentLeaves(call.input);
  for (const leaf of leaves) {
    if (typeof leaf.value !== 'string' || leaf.value.trim() === '') continue;
    const value = leaf.value;
    const argument = leaf.path === '' ? undefined : leaf.path;
    if (
      PERMISSION_ARGUMENT.test(leaf.path.split(/[.[]/).at(-1) ?? '') &&
      !PERMISSION_TOOL.test(call.toolName)
    )
      flags.push({ kind: 'permission_change', argument, detail: `sets ${leaf.path}` });
    // A read can be an exfiltration channel too (fetching an attacker's URL).
    if (looksLikeDestination(value) && originOf(value, call.context) === 'untrusted')
      flags.push({
        kind: 'untrusted_destination',
        argument,
        detail: `${truncate(value)} appears only in untrusted content`,
      });
    const shape = exfiltrationShape(value);
    if (shape) flags.push({ kind: 'exfiltration_shape', argument, detail: shape });
  }
  return flags;
}

/** Why a value looks like data leaving, or `undefined`. */
function exfiltrationShape(value: string): string | undefined {
  if (SECRET.test(value)) return 'a secret-looking string';
  const url = urlOf(value.trim());
  if (url) {
    const query = [...url.searchParams.values()].join('');
    if (query.length >= 32 || encodedShape(query) === 'blob' || /\d{6}/.test(query))
      return 'a URL carrying data in its query';
    if (encodedShape(url.pathname) === 'blob') return 'a URL carrying a long encoded blob';
    return undefined;
  }
  const shape = encodedShape(value);
  if (shape === 'blob') return 'a long encoded blob';
  if (shape === 'hex') return 'a long hex blob';
  return undefined;
}

function urlOf(value: string): URL | undefined {
  if (!isUrl(value)) return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function truncate(value: string): string {
  return value.length <= 60 ? value : `${value.slice(0, 59)}…`;
}
