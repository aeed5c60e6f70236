import type { ToolEffect, ToolFailure } from '../journal/index.js';

/** A call the agent's gates allowed, about to run: what an interceptor decides on. */
export interface InterceptedCall {
  readonly runId: string;
  readonly agent: string;
  readonly step: number;
  readonly callId: string;
  readonly toolName: string;
  readonly effect: ToolEffect;
  /** The arguments as the model sent them (before the tool's schema transforms). */
  readonly input: unknown;
  /** Set in a shadow run when the gates would have held the call for a human. */
  readonly wouldNeedApproval?: boolean | undefined;
}

/** The result a call is given instead of running: a value, or a typed failure. */
export type InterceptedResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: ToolFailure };

/**
 * What happens to a call: it runs (`execute`), it is answered without running (`serve`, e.g.
 * an evaluation's fixture, `source` saying from where), or it is kept from running
 * (`suppress`, `reason` saying why) and the model is given `result`.
 */
export type ToolCallRoute =
  | { readonly type: 'execute' }
  | { readonly type: 'serve'; readonly source: string; readonly result: InterceptedResult }
  | { readonly type: 'suppress'; readonly reason: string; readonly result: InterceptedResult };

/**
 * Decides, per call, whether a tool runs. Set on a runtime whose runs must not touch the world
 * (evaluations, shadow runs); a production runtime has none and every allowed call runs. A
 * served or suppressed call is journaled as `tool_intercepted` with the result it was given.
 *
 * ```ts
 * const interceptToolCall: ToolCallInterceptor = (call) =>
 *   call.effect === 'read'
 *     ? { type: 'execute' }
 *     : { type: 'suppress', reason: 'dry run', result: { ok: true, value: { suppressed: true } } };
 * ```
 */
export type ToolCallInterceptor = (call: InterceptedCall) => ToolCallRoute | Promise<ToolCallRoute>;
