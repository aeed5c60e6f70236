// The recall benchmark's corpus: 220 stored tool results of an operations archive and 50
// questions, each answered by exactly one result. Most results are near-identical records that
// differ only in a short identifier (box 3, PR #12, room A7, v4, ticket #8) and the numbers
// around them; the rest are named facts and filler full of other numbers. Deterministic.
import { seededRandom } from './stats.js';

export interface RecallDocument {
  readonly ref: string;
  readonly step: number;
  readonly content: string;
}

export interface RecallQuestion {
  readonly question: string;
  /** The ref of the one result that answers it. */
  readonly ref: string;
  /** A string only that result holds (checked when the corpus is built). */
  readonly answer: string;
  /** The question names its subject by a short identifier (`box 3`, `A7`, `#8`, `v4`). */
  readonly shortId: boolean;
}

export interface RecallCorpus {
  readonly documents: readonly RecallDocument[];
  readonly questions: readonly RecallQuestion[];
}

const PEOPLE = [
  'Ana',
  'Bruno',
  'Chen',
  'Dara',
  'Eli',
  'Farah',
  'Goran',
  'Hana',
  'Ivo',
  'Jun',
  'Kemal',
  'Lena',
];
const TEAMS = ['payments', 'search', 'billing', 'mobile', 'platform', 'support'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday'];
const SERVICES = ['ledger', 'gateway', 'scheduler', 'indexer', 'notifier'];
const FEATURES = [
  'retry budgets',
  'audit export',
  'dark mode',
  'bulk import',
  'rate limiting',
  'webhooks',
  'single sign-on',
  'faster search',
  'CSV reports',
  'a new dashboard',
];
const PROBLEMS = [
  'cannot log in after a password reset',
  'was charged twice for one order',
  'sees an empty invoice list',
  'gets a timeout when exporting',
  'lost the saved filters',
  'cannot upload a profile photo',
];
const PROJECTS = [
  ['Orion', 'budget', 'dollars'],
  ['Zephyr', 'vault code', ''],
  ['Halcyon', 'launch window', 'days'],
  ['Borealis', 'headcount', 'engineers'],
  ['Cobalt', 'error budget', 'minutes'],
  ['Juniper', 'storage quota', 'terabytes'],
  ['Marigold', 'target latency', 'milliseconds'],
  ['Nimbus', 'license count', 'seats'],
  ['Quartz', 'backlog size', 'tickets'],
  ['Saffron', 'renewal fee', 'euros'],
] as const;

/**
 * Build the corpus. Answers are unique codes drawn from `random`; a collision (a code another
 * result also holds) throws, so every question keeps exactly one answering result.
 */
export function recallCorpus(): RecallCorpus {
  const random = seededRandom(2026);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const code = (digits: number): string =>
    String(Math.floor(10 ** (digits - 1) + random() * 9 * 10 ** (digits - 1)));
  const hex = (): string =>
    Math.floor(random() * 0xfffffff)
      .toString(16)
      .padStart(7, '0');

  const bodies: string[] = [];
  const questions: { question: string; index: number; answer: string; shortId: boolean }[] = [];
  const add = (content: string): number => bodies.push(content) - 1;
  const ask = (question: string, index: number, answer: string, shortId: boolean): void => {
    questions.push({ question, index, answer, shortId });
  };

  // 40 locker records: "the code for box N is ...", N = 1..40.
  for (let box = 1; box <= 40; box++) {
    const answer = code(5);
    const index = add(
      `Locker inventory, row ${1 + (box % 4)}. The code for box ${box} is ${answer}. ` +
        `Last opened by ${pick(PEOPLE)} on ${pick(DAYS)}, ${2 + (box % 9)} items inside.`,
    );
    if ([3, 7, 12, 18, 21, 26, 30, 33, 38, 40].includes(box)) {
      ask(`What is the code for box ${box}?`, index, answer, true);
    }
  }
  // 40 pull requests, numbered 1..40 like the boxes.
  for (let pr = 1; pr <= 40; pr++) {
    const answer = hex();
    const index = add(
      `Pull request #${pr} "${pick(FEATURES)} for ${pick(SERVICES)}" was reviewed by ${pick(PEOPLE)} ` +
        `and merged as commit ${answer}; it touches ${1 + (pr % 7)} files and ${10 + pr * 3} lines.`,
    );
    if ([1, 5, 9, 12, 17, 24, 28, 35, 39, 40].includes(pr)) {
      ask(`Which commit was PR ${pr} merged as?`, index, answer, true);
    }
  }
  // 30 rooms A1..C9 and D1..D3.
  const rooms = ['A', 'B', 'C'].flatMap((wing) =>
    Array.from({ length: 9 }, (_, at) => `${wing}${at + 1}`),
  );
  rooms.push('D1', 'D2', 'D3');
  for (const [at, room] of rooms.entries()) {
    const answer = `RB-${code(4)}`;
    const index = add(
      `Room ${room} on floor ${1 + (at % 3)} is booked by ${pick(PEOPLE)} for the ${pick(TEAMS)} team, ` +
        `booking reference ${answer}, ${4 + (at % 6)} seats.`,
    );
    if (['A7', 'B4', 'C1', 'A2', 'C9', 'D2', 'B8', 'A9'].includes(room)) {
      ask(`What is the booking reference for room ${room}?`, index, answer, true);
    }
  }
  // 20 releases v1..v20.
  for (let version = 1; version <= 20; version++) {
    const answer = `build ${code(6)}`;
    const index = add(
      `Release notes: v${version} of the ${pick(SERVICES)} shipped on ${pick(DAYS)} as ${answer} ` +
        `with ${pick(FEATURES)} and ${version % 5} known issues.`,
    );
    if ([2, 4, 11, 15, 20].includes(version)) {
      ask(`Which build was release v${version}?`, index, answer, true);
    }
  }
  // 30 support tickets #1..#30.
  for (let ticket = 1; ticket <= 30; ticket++) {
    const answer = `$${code(3)}.${code(2)}`;
    const index = add(
      `Ticket #${ticket} from a ${pick(TEAMS)} customer: the user ${pick(PROBLEMS)}. ` +
        `Priority ${1 + (ticket % 3)}; refund issued ${answer}.`,
    );
    if ([3, 8, 14, 19, 22, 27, 30].includes(ticket)) {
      ask(`How much was refunded for ticket #${ticket}?`, index, answer, true);
    }
  }
  // 10 named project facts and 20 staff notes, asked about by name.
  for (const [name, property, unit] of PROJECTS) {
    const answer = code(4);
    const index = add(
      `Planning memo. The ${name} project's ${property} is ${answer}${unit ? ` ${unit}` : ''}, ` +
        `agreed by ${pick(PEOPLE)} with the ${pick(TEAMS)} team.`,
    );
    ask(`What is the ${property} of the ${name} project?`, index, answer, false);
  }
  for (let note = 0; note < 20; note++) {
    const person = PEOPLE[note % PEOPLE.length] as string;
    const team = TEAMS[note % TEAMS.length] as string;
    add(
      `Staff note ${note + 1}: ${person} moved to the ${team} team on ${pick(DAYS)} ` +
        `and owns ${2 + (note % 5)} services, including the ${pick(SERVICES)}.`,
    );
  }
  // 30 shipment logs full of numbers: filler that shares the identifiers' digits.
  for (let log = 0; log < 30; log++) {
    const lines = [`Shipment log ${log + 1}.`];
    for (let line = 0; line < 12; line++) {
      lines.push(
        `Crate ${(log * 13 + line) % 41} of lot ${(log + line) % 30} weighed ${(log * 7 + line * 11) % 90} kg at dock ${line % 9}.`,
      );
    }
    add(lines.join(' '));
  }

  // Shuffle the results into steps so no kind of record sits in one block of steps.
  const order = bodies.map((_, index) => index);
  for (let at = order.length - 1; at > 0; at--) {
    const other = Math.floor(random() * (at + 1));
    [order[at], order[other]] = [order[other] as number, order[at] as number];
  }
  const stepOf = new Map(order.map((index, step) => [index, step]));
  const refOf = (index: number): string => {
    const step = stepOf.get(index) ?? 0;
    return `result:${step}:call_${step}_0`;
  };
  const documents = order.map((index, step) => ({
    ref: `result:${step}:call_${step}_0`,
    step,
    content: bodies[index] as string,
  }));
  for (const question of questions) {
    const holders = documents.filter((document) => document.content.includes(question.answer));
    if (holders.length !== 1) {
      throw new Error(`"${question.answer}" is held by ${holders.length} results`);
    }
  }
  return {
    documents,
    questions: questions.map(({ question, index, answer, shortId }) => ({
      question,
      ref: refOf(index),
      answer,
      shortId,
    })),
  };
}
