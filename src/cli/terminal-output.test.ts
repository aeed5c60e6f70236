import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRuntime, defineAgent, defineTool, openStore, simulator } from '../index.js';
import { runKeel } from './__tests__/keel-process.js';
import { escapeControl, forTerminal, pc } from './terminal.js';

/*
 * Text chosen by a model reaches the terminal only with its control characters escaped: no
 * retitled window, cleared screen, planted hyperlink, hidden or reordered text.
 */

const directory = mkdtempSync(join(tmpdir(), 'keel-terminal-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

const HOSTILE = [
  '\u001b]0;pwned\u0007', // window title
  '\u001b[2J\u001b[H', // clear screen, cursor home
  '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\', // hyperlink
  '\u009b2K', // one-byte CSI: erase the line
  '\rapproved', // overwrite the line
  'safe\u202egnp.exe', // right-to-left override
].join(' ');

/** Anything a terminal acts on rather than shows. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('CLI output', () => {
  it('escapes control characters in every field a run, an approval or a journal prints', async () => {
    const storeUrl = `sqlite:${join(directory, 'hostile.db')}`;
    const store = await openStore(storeUrl);
    const send = defineTool({
      name: 'send_note',
      description: 'Send a note',
      input: z.object({ note: z.string() }),
      effect: 'irreversible',
      run: () => Promise.resolve({ ok: true }),
    });
    const talker = defineAgent({
      name: 'talker',
      instructions: 'Talk.',
      model: simulator({ script: [{ text: `done ${HOSTILE}` }] }),
    });
    const sender = defineAgent({
      name: 'sender',
      instructions: 'Send.',
      model: simulator({
        script: ({ step }) =>
          step === 0
            ? { toolCalls: [{ name: 'send_note', args: { note: HOSTILE } }] }
            : { text: 'ok' },
      }),
      tools: [send],
      gates: { approverGroup: 'ops' },
    });
    const runtime = createRuntime({ store, agents: [talker, sender] });
    const worker = runtime.startWorker({ pollMs: 10 });
    let finished: string;
    try {
      finished = (await runtime.run('talker', `task ${HOSTILE}`)).id;
      const parked = await runtime.submit('sender', 'send it');
      while ((await store.getRun(parked.id))?.status !== 'waiting')
        await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    }
    const printed: Record<string, string> = {};
    for (const args of [['show', finished], ['approvals'], ['show', finished, '--json']]) {
      const result = await runKeel(storeUrl, args);
      printed[args.join(' ')] = result.stdout;
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 0]);
      expect([args.join(' '), CONTROL.test(result.stdout + result.stderr)]).toEqual([
        args.join(' '),
        false,
      ]);
    }
    expect(printed[`show ${finished}`]).toContain('\\u001b]0;pwned\\u0007');
    expect(printed[`show ${finished}`]).toContain('\\u202e');
    expect(printed.approvals).toContain('\\u001b]0;pwned');
    const parsed = JSON.parse(printed[`show ${finished} --json`] ?? '') as {
      state: { output: string };
    };
    expect(parsed.state.output).toBe(`done ${HOSTILE}`);
  }, 60_000);

  it('keeps its own colours and escapes the same sequences planted in the text', () => {
    const line = forTerminal(`${pc.red('x')} \u001b[31my`);
    expect(line).toContain('\\u001b[31my');
    expect(line.startsWith('\\u001b')).toBe(false);
    expect(escapeControl('tab\tand\nnewline')).toBe('tab\tand\nnewline');
    expect(escapeControl('\u0085\u2028')).toBe('\\u0085\\u2028');
  });
});
