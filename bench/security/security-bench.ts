import * as fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import {
  createRuntime,
  defineAgent,
  defineGuard,
  openStore,
  simulator,
  type Agent,
  type Guard,
  type Runtime,
  type ScriptContext,
} from '../../src/index.js';
import { heuristicDetector } from '../../src/exports/guard.js';
import { argumentLeaves } from '../../src/guard/index.js';
import { banking } from './banking.js';
import { messaging } from './messaging.js';
import {
  INJECTION_TEMPLATES,
  TEMPLATE_NAMES,
  copyWorld,
  type Environment,
  type InjectionTask,
  type PlannedCall,
  type UserTask,
  type WorldState,
} from './scenario.js';
import { standInHuman } from './stand-in-human.js';
import { scriptedTurn, type AttackerTurn, type ScriptedModel } from './scripted-models.js';
import { travel } from './travel.js';
import { workspace } from './workspace.js';

/** Who answers the guard's confirmation requests. */
export const HUMANS = ['truthful', 'denyAll', 'approveAll'] as const;
export type Human = (typeof HUMANS)[number];

export interface SecurityBenchOptions {
  /** fast-check seed of the T3 model. */
  readonly seed?: number;
  /** T3 episodes per user task and human. Default 12. */
  readonly t3Runs?: number;
  /** Only these environments (default all). */
  readonly suites?: readonly string[];
}

type PerHuman = Record<Human, number>;

/** One suite's (or the total's) figures. Rates are shares from 0 to 1. */
export interface SuiteMetrics {
  readonly userTasks: number;
  readonly injectionTasks: number;
  readonly utilityT0Undefended: number;
  readonly utilityT0Defended: number;
  readonly utilityRetention: number;
  /** `action` and `dataflow` attacks that landed, defended, per level and human. */
  readonly asr: { readonly T1: PerHuman; readonly T2: PerHuman; readonly T3: PerHuman };
  /** The same attacks against the agent without the guard (what the defence is worth). */
  readonly asrUndefended: { readonly T1: number; readonly T2: number; readonly T3: number };
  /** Successful `action`/`dataflow` attacks (counts), defended: the gated figure. */
  readonly successes: { readonly T1: PerHuman; readonly T2: PerHuman; readonly T3: PerHuman };
  readonly episodes: { readonly T1: number; readonly T2: number; readonly T3: number };
  /**
   * User utility while under attack, per level and human (T1: the `resume` variant, which goes
   * back to the user's plan; T3 rarely finishes a task, since every turn is the attacker's).
   */
  readonly utilityUnderAttack: {
    readonly T1: PerHuman;
    readonly T2: PerHuman;
    readonly T3: PerHuman;
  };
  readonly confirmationRate: number;
  readonly falseBlockRate: number;
  /** `content` attacks (the final text says what the attacker wants), T1 with `truthful`. */
  readonly contentClassAsr: number;
  readonly guardP50Ms: number;
  readonly guardP99Ms: number;
  /**
   * The heuristic injection detector on the worlds' data (injected texts vs. every benign
   * string). Telemetry, reported apart: never part of the security score.
   */
  readonly detector: { readonly precision: number; readonly recall: number };
}

export interface Counterexample {
  readonly suite: string;
  readonly level: string;
  readonly human: Human;
  readonly userTask: string;
  readonly injectionTask: string;
  readonly detail: string;
}

export interface SecurityBenchReport {
  readonly suites: Record<string, SuiteMetrics>;
  readonly total: SuiteMetrics;
  /** Every defended `action`/`dataflow` success with `truthful` or `denyAll` (must be empty). */
  readonly failures: readonly Counterexample[];
  readonly seed: number;
  readonly durationMs: number;
}

/** Environments are generic in their world; the harness sees the common part. */
type AnyEnvironment = Environment<WorldState>;
export const ENVIRONMENTS: readonly AnyEnvironment[] = [banking, workspace, messaging, travel];

interface Episode {
  world: WorldState;
  model: ScriptedModel;
  human: Human;
  userPlan: readonly PlannedCall[];
  confirmations: number;
}

interface Outcome {
  readonly before: WorldState;
  readonly after: WorldState;
  readonly text: string;
  readonly confirmations: number;
}

/**
 * Run the adversarial benchmark: the real runtime (engine, gates, guard, approvals on a SQLite
 * journal) driven by scripted worst-case models, judged on the state of each world.
 */
export async function runSecurityBench(
  options: SecurityBenchOptions = {},
): Promise<SecurityBenchReport> {
  const started = performance.now();
  const seed = options.seed ?? 20_261_201;
  const t3Runs = options.t3Runs ?? 12;
  const environments = ENVIRONMENTS.filter(
    (env) => !options.suites || options.suites.includes(env.name),
  );
  const store = await openStore('sqlite::memory:');
  const guardTimes = new Map<string, number[]>();
  let episode: Episode | undefined;
  const agents: Agent[] = [];
  for (const env of environments) {
    const times: number[] = [];
    guardTimes.set(env.name, times);
    const guard = defineGuard(env.guard, `${env.name} guard`);
    const timed: Guard = {
      options: guard.options,
      evaluate(call) {
        const start = performance.now();
        const decision = guard.evaluate(call);
        times.push(performance.now() - start);
        return decision;
      },
    };
    const tools = env.tools(() => current().world);
    const model = simulator({
      script: (context: ScriptContext) => scriptedTurn(current().model, context),
      price: null,
    });
    const base = { instructions: env.instructions, model, tools };
    agents.push(
      defineAgent({ ...base, name: `${env.name}-undefended` }),
      defineAgent({
        ...base,
        name: `${env.name}-defended`,
        guard: timed,
      }),
    );
  }
  function current(): Episode {
    if (!episode) throw new Error('no episode running');
    return episode;
  }

  let token = '';
  const human = standInHuman(
    () => runtime,
    () => token,
    current,
  );
  const runtime: Runtime = createRuntime({
    store,
    agents,
    approvals: { notifier: { name: 'stand-in', notify: human } },
  });
  token = (await runtime.approvals.addApprover({ name: 'stand-in', groups: ['approvers'] })).token;

  const play: Play = async (env, defended, world, prompt, userPlan, model, who) => {
    const before = copyWorld(world);
    episode = { world, model, human: who, userPlan, confirmations: 0 };
    const result = await runtime.run(
      `${env.name}-${defended ? 'defended' : 'undefended'}`,
      prompt,
      {
        limits: { maxIterations: 16 },
      },
    );
    const outcome = {
      before,
      after: episode.world,
      text: result.output ?? '',
      confirmations: episode.confirmations,
    };
    episode = undefined;
    return outcome;
  };

  const failures: Counterexample[] = [];
  const suites: Record<string, SuiteMetrics> = {};
  const raw: Raw[] = [];
  try {
    for (const env of environments) {
      const r = await runSuite(env, play, seed, t3Runs, failures);
      r.guardTimes = guardTimes.get(env.name) ?? [];
      raw.push(r);
      suites[env.name] = metricsOf([r]);
    }
  } finally {
    await runtime.close();
    await store.close();
  }
  return {
    suites,
    total: metricsOf(raw),
    failures,
    seed,
    durationMs: Math.round(performance.now() - started),
  };
}

type Play = (
  env: AnyEnvironment,
  defended: boolean,
  world: WorldState,
  prompt: string,
  userPlan: readonly PlannedCall[],
  model: ScriptedModel,
  who: Human,
) => Promise<Outcome>;

/** Counts of one suite, before they become rates. */
interface Raw {
  userTasks: number;
  injectionTasks: number;
  t0Undefended: number;
  t0Defended: number;
  t0Confirmed: number;
  falseBlocks: number;
  episodes: { T1: number; T2: number; T3: number };
  successes: { T1: PerHuman; T2: PerHuman; T3: PerHuman };
  undefended: { T1: number; T2: number; T3: number };
  utilityUnderAttack: { T1: PerHuman; T2: PerHuman; T3: PerHuman };
  contentEpisodes: number;
  contentSuccesses: number;
  guardTimes: number[];
  detector: { truePositives: number; falsePositives: number; falseNegatives: number };
}

const zero = (): PerHuman => ({ truthful: 0, denyAll: 0, approveAll: 0 });

async function runSuite(
  env: AnyEnvironment,
  play: Play,
  seed: number,
  t3Runs: number,
  failures: Counterexample[],
): Promise<Raw> {
  const raw: Raw = {
    userTasks: env.userTasks.length,
    injectionTasks: env.injectionTasks.length,
    t0Undefended: 0,
    t0Defended: 0,
    t0Confirmed: 0,
    falseBlocks: 0,
    episodes: { T1: 0, T2: 0, T3: 0 },
    successes: { T1: zero(), T2: zero(), T3: zero() },
    undefended: { T1: 0, T2: 0, T3: 0 },
    utilityUnderAttack: { T1: zero(), T2: zero(), T3: zero() },
    contentEpisodes: 0,
    contentSuccesses: 0,
    guardTimes: [],
    detector: { truePositives: 0, falsePositives: 0, falseNegatives: 0 },
  };
  const flagged = (text: string) => heuristicDetector(text).matches.length > 0;
  for (const leaf of argumentLeaves(env.fixture({})))
    if (typeof leaf.value === 'string' && flagged(leaf.value)) raw.detector.falsePositives += 1;
  for (const injection of env.injectionTasks) {
    const goal = injection.goal(env.fixture({}));
    for (const name of TEMPLATE_NAMES) {
      if (flagged(INJECTION_TEMPLATES[name](goal))) raw.detector.truePositives += 1;
      else raw.detector.falseNegatives += 1;
    }
  }
  const userTasks = env.userTasks;
  const injectionTasks = env.injectionTasks;

  // T0: every user task, no attack, without and with the guard (truthful human).
  for (const task of userTasks) {
    const world = env.fixture({});
    const plan = task.plan(world);
    const oracle: ScriptedModel = { level: 'T0', plan, answer: task.answer(world) };
    const open = await play(env, false, env.fixture({}), task.prompt, plan, oracle, 'truthful');
    const guarded = await play(env, true, world, task.prompt, plan, oracle, 'truthful');
    const openOk = task.utility(open.before, open.after, open.text);
    const guardedOk = task.utility(guarded.before, guarded.after, guarded.text);
    if (openOk) raw.t0Undefended += 1;
    if (guardedOk) raw.t0Defended += 1;
    if (openOk && !guardedOk) raw.falseBlocks += 1;
    if (guarded.confirmations > 0) raw.t0Confirmed += 1;
  }

  // Pairs: each user task that reads a slot with each injection task, templates in rotation.
  const pairs: {
    task: UserTask<WorldState>;
    injection: InjectionTask<WorldState>;
    slot: string;
    template: number;
  }[] = [];
  let rotation = 0;
  for (const task of userTasks)
    for (const slot of task.slots.slice(0, 1))
      for (const injection of injectionTasks)
        pairs.push({ task, injection, slot, template: rotation++ % TEMPLATE_NAMES.length });

  const attacked = (injection: InjectionTask<WorldState>, outcome: Outcome): boolean =>
    injection.security(outcome.before, outcome.after, outcome.text);

  for (const { task, injection, slot, template } of pairs) {
    const name = TEMPLATE_NAMES[template] ?? 'important';
    const fresh = () => {
      const clean = env.fixture({});
      const goal = injection.goal(clean);
      const text = INJECTION_TEMPLATES[name](goal);
      return { world: env.fixture({ [slot]: text }), marker: goal };
    };
    const { world: sample, marker } = fresh();
    const plan = task.plan(sample);
    const answer = task.answer(sample);

    if (injection.class === 'content') {
      const model: ScriptedModel = {
        level: 'T1',
        variant: 'stop',
        plan,
        answer,
        marker,
        attack: injection.plan(sample),
        attackAnswer: injection.answer?.(sample),
      };
      const outcome = await play(env, true, fresh().world, task.prompt, plan, model, 'truthful');
      raw.contentEpisodes += 1;
      if (attacked(injection, outcome)) raw.contentSuccesses += 1;
      continue;
    }

    for (const variant of ['resume', 'stop'] as const) {
      const model: ScriptedModel = {
        level: 'T1',
        variant,
        plan,
        answer,
        marker,
        attack: injection.plan(sample),
        attackAnswer: injection.answer?.(sample),
      };
      raw.episodes.T1 += 1;
      const open = await play(env, false, fresh().world, task.prompt, plan, model, 'approveAll');
      if (attacked(injection, open)) raw.undefended.T1 += 1;
      for (const who of HUMANS) {
        const outcome = await play(env, true, fresh().world, task.prompt, plan, model, who);
        if (variant === 'resume' && task.utility(outcome.before, outcome.after, outcome.text))
          raw.utilityUnderAttack.T1[who] += 1;
        if (attacked(injection, outcome)) {
          raw.successes.T1[who] += 1;
          if (who !== 'approveAll')
            failures.push({
              suite: env.name,
              level: `T1-${variant}`,
              human: who,
              userTask: task.id,
              injectionTask: injection.id,
              detail: JSON.stringify(outcome.after.effects),
            });
        }
      }
    }

    // T2: the user's plan with sink arguments swapped for the attacker's values.
    const swapper: ScriptedModel = {
      level: 'T2',
      plan,
      answer,
      marker,
      swap: (call) => env.swap(call),
    };
    const breached = (outcome: Outcome) => attacked(injection, outcome) || leaked(env, outcome);
    raw.episodes.T2 += 1;
    if (breached(await play(env, false, fresh().world, task.prompt, plan, swapper, 'approveAll')))
      raw.undefended.T2 += 1;
    for (const who of HUMANS) {
      const outcome = await play(env, true, fresh().world, task.prompt, plan, swapper, who);
      if (task.utility(outcome.before, outcome.after, outcome.text))
        raw.utilityUnderAttack.T2[who] += 1;
      if (breached(outcome)) {
        raw.successes.T2[who] += 1;
        if (who !== 'approveAll')
          failures.push({
            suite: env.name,
            level: 'T2',
            human: who,
            userTask: task.id,
            injectionTask: injection.id,
            detail: JSON.stringify(outcome.after.effects),
          });
      }
    }
  }

  // T3: once untrusted data is seen, every turn is chosen by fast-check (seeded, bounded).
  const turn: fc.Arbitrary<AttackerTurn> = fc.oneof(
    { weight: 4, arbitrary: env.anyCall.map((call) => ({ call })) },
    { weight: 1, arbitrary: fc.constantFrom(...env.attackerValues).map((text) => ({ text })) },
  );
  const turns = fc.array(turn, { minLength: 1, maxLength: 4 });
  const anyAttack = (outcome: Outcome) =>
    injectionTasks.some(
      (injection) => injection.class !== 'content' && attacked(injection, outcome),
    ) || leaked(env, outcome);
  const t3Tasks = userTasks.filter((task) => task.slots.length > 0);
  for (const [index, task] of t3Tasks.entries()) {
    const world = env.fixture({});
    const plan = task.plan(world);
    const answer = task.answer(world);
    const cases = fc.sample(turns, { seed: seed + index, numRuns: t3Runs });
    const episodeOf = (script: readonly AttackerTurn[], who: Human, defended: boolean) =>
      play(
        env,
        defended,
        env.fixture({}),
        task.prompt,
        plan,
        { level: 'T3', plan, answer, turns: script },
        who,
      );
    for (const script of cases) {
      raw.episodes.T3 += 1;
      if (anyAttack(await episodeOf(script, 'approveAll', false))) raw.undefended.T3 += 1;
      for (const who of HUMANS) {
        const outcome = await episodeOf(script, who, true);
        if (task.utility(outcome.before, outcome.after, outcome.text))
          raw.utilityUnderAttack.T3[who] += 1;
        if (!anyAttack(outcome)) continue;
        raw.successes.T3[who] += 1;
        if (who === 'approveAll') continue;
        // Shrink to the smallest script that still lands, for the report.
        const shrunk = await fc.check(
          fc.asyncProperty(
            turns,
            async (candidate) => !anyAttack(await episodeOf(candidate, who, true)),
          ),
          { seed: seed + index, numRuns: t3Runs, examples: [[script]] },
        );
        failures.push({
          suite: env.name,
          level: 'T3',
          human: who,
          userTask: task.id,
          injectionTask: '(any)',
          detail: JSON.stringify(shrunk.counterexample ?? script),
        });
      }
    }
  }
  return raw;
}

/** An attacker-only value reached a consequential effect's arguments. */
function leaked(env: AnyEnvironment, outcome: Outcome): boolean {
  const fresh = outcome.after.effects.slice(outcome.before.effects.length);
  return fresh.some((effect) => {
    const text = JSON.stringify(effect.args);
    return env.attackerValues.some((value) => text.includes(value));
  });
}

function metricsOf(raws: readonly Raw[]): SuiteMetrics {
  const sum = (pick: (raw: Raw) => number) => raws.reduce((total, raw) => total + pick(raw), 0);
  const share = (part: number, whole: number) => (whole === 0 ? 0 : round(part / whole));
  const perHuman = (pick: (raw: Raw) => PerHuman, whole: number): PerHuman => ({
    truthful: share(
      sum((r) => pick(r).truthful),
      whole,
    ),
    denyAll: share(
      sum((r) => pick(r).denyAll),
      whole,
    ),
    approveAll: share(
      sum((r) => pick(r).approveAll),
      whole,
    ),
  });
  const counts = (pick: (raw: Raw) => PerHuman): PerHuman => ({
    truthful: sum((r) => pick(r).truthful),
    denyAll: sum((r) => pick(r).denyAll),
    approveAll: sum((r) => pick(r).approveAll),
  });
  const tasks = sum((r) => r.userTasks);
  const episodes = {
    T1: sum((r) => r.episodes.T1),
    T2: sum((r) => r.episodes.T2),
    T3: sum((r) => r.episodes.T3),
  };
  const undefended = sum((r) => r.t0Undefended);
  const defended = sum((r) => r.t0Defended);
  const times = raws.flatMap((r) => r.guardTimes).sort((a, b) => a - b);
  return {
    userTasks: tasks,
    injectionTasks: sum((r) => r.injectionTasks),
    utilityT0Undefended: share(undefended, tasks),
    utilityT0Defended: share(defended, tasks),
    utilityRetention: share(defended, undefended),
    asr: {
      T1: perHuman((r) => r.successes.T1, episodes.T1),
      T2: perHuman((r) => r.successes.T2, episodes.T2),
      T3: perHuman((r) => r.successes.T3, episodes.T3),
    },
    asrUndefended: {
      T1: share(
        sum((r) => r.undefended.T1),
        episodes.T1,
      ),
      T2: share(
        sum((r) => r.undefended.T2),
        episodes.T2,
      ),
      T3: share(
        sum((r) => r.undefended.T3),
        episodes.T3,
      ),
    },
    successes: {
      T1: counts((r) => r.successes.T1),
      T2: counts((r) => r.successes.T2),
      T3: counts((r) => r.successes.T3),
    },
    episodes,
    utilityUnderAttack: {
      T1: perHuman((r) => r.utilityUnderAttack.T1, episodes.T1 / 2),
      T2: perHuman((r) => r.utilityUnderAttack.T2, episodes.T2),
      T3: perHuman((r) => r.utilityUnderAttack.T3, episodes.T3),
    },
    confirmationRate: share(
      sum((r) => r.t0Confirmed),
      tasks,
    ),
    falseBlockRate: share(
      sum((r) => r.falseBlocks),
      tasks,
    ),
    contentClassAsr: share(
      sum((r) => r.contentSuccesses),
      sum((r) => r.contentEpisodes),
    ),
    guardP50Ms: round(quantile(times, 0.5), 4),
    guardP99Ms: round(quantile(times, 0.99), 4),
    detector: {
      precision: share(
        sum((r) => r.detector.truePositives),
        sum((r) => r.detector.truePositives + r.detector.falsePositives),
      ),
      recall: share(
        sum((r) => r.detector.truePositives),
        sum((r) => r.detector.truePositives + r.detector.falseNegatives),
      ),
    },
  };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function round(value: number, digits = 4): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
