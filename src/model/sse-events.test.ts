import { describe, expect, it } from 'vitest';
import { serverSentEventBatches, serverSentEvents, type ServerSentEvent } from './sse-events.js';

async function eventsOf(chunks: readonly (string | Uint8Array)[]): Promise<ServerSentEvent[]> {
  const encoder = new TextEncoder();
  async function* body(): AsyncGenerator<Uint8Array> {
    for (const chunk of chunks) {
      // One chunk a turn of the event loop, as a socket delivers them.
      await Promise.resolve();
      yield typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    }
  }
  const events: ServerSentEvent[] = [];
  for await (const event of serverSentEvents(body())) events.push(event);
  return events;
}

/** Every way of cutting `text` into two chunks, and one byte per chunk. */
function cuts(text: string): Uint8Array[][] {
  const bytes = new TextEncoder().encode(text);
  const ways: Uint8Array[][] = [];
  for (let at = 0; at <= bytes.length; at++) ways.push([bytes.slice(0, at), bytes.slice(at)]);
  ways.push(Array.from(bytes, (byte) => Uint8Array.of(byte)));
  return ways;
}

describe('serverSentEvents', () => {
  it('reads data lines, event names, comments and multi-line data', async () => {
    expect(
      await eventsOf([
        ': keep-alive\n\ndata: {"a":1}\n\nevent: error\ndata: line one\ndata:line two\n\n',
      ]),
    ).toEqual([
      { event: null, data: '{"a":1}' },
      { event: 'error', data: 'line one\nline two' },
    ]);
  });

  it('gives the same events however the body is cut, with LF, CRLF or CR line ends', async () => {
    for (const end of ['\n', '\r\n', '\r']) {
      const text = `data: héllo ✓${end}${end}: note${end}data: [DONE]${end}${end}`;
      for (const chunks of cuts(text)) {
        expect(await eventsOf(chunks)).toEqual([
          { event: null, data: 'héllo ✓' },
          { event: null, data: '[DONE]' },
        ]);
      }
    }
  });

  it('drops an event the body ended in the middle of, and events without data', async () => {
    expect(await eventsOf(['data: whole\n\nevent: ping\n\ndata: {"cut', ' off'])).toEqual([
      { event: null, data: 'whole' },
    ]);
    expect(await eventsOf(['data: no blank line after it\n'])).toEqual([]);
  });

  it('reads nothing from a body that is not an event stream', async () => {
    expect(await eventsOf(['{"id":"chatcmpl-1","choices":[]}\n'])).toEqual([]);
  });

  it('reads a response body with a reader it keeps, to the same events however it is cut', async () => {
    const text = 'data: héllo ✓\r\n\r\n: note\ndata: [DONE]\n\n';
    for (const chunks of cuts(text)) {
      const body = streamOf(chunks);
      const events: ServerSentEvent[] = [];
      for await (const event of serverSentEvents(body)) events.push(event);
      expect(events).toEqual([
        { event: null, data: 'héllo ✓' },
        { event: null, data: '[DONE]' },
      ]);
      // Not released at the end: Node's first release in a process costs ~2 ms.
      expect(body.locked).toBe(true);
    }
  });

  it('cancels a response body when the caller stops reading', async () => {
    const cancelled: unknown[] = [];
    const body = streamOf(['data: one\n\n', 'data: two\n\n'], (reason) => cancelled.push(reason));
    for await (const event of serverSentEvents(body)) {
      expect(event.data).toBe('one');
      break;
    }
    expect(cancelled).toHaveLength(1);
  });

  it('fails with the error a response body fails with', async () => {
    const reset = new Error('connection reset');
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(reset);
        else controller.enqueue(new TextEncoder().encode('data: one\n\n'));
        sent = true;
      },
    });
    const events: string[] = [];
    await expect(
      (async () => {
        for await (const event of serverSentEvents(body)) events.push(event.data);
      })(),
    ).rejects.toBe(reset);
    expect(events).toEqual(['one']);
  });
});

describe('serverSentEventBatches', () => {
  it('hands over together the events one piece of the body completed, and never an empty list', async () => {
    const encoder = new TextEncoder();
    async function* body(): AsyncGenerator<Uint8Array> {
      for (const chunk of [
        'data: a\n\ndata: b\n\ndata: c',
        '\n\n',
        ': only a comment\n\n',
        'data: d',
        '\n\n',
      ]) {
        await Promise.resolve();
        yield encoder.encode(chunk);
      }
    }
    const batches: string[][] = [];
    for await (const events of serverSentEventBatches(body()))
      batches.push(events.map((event) => event.data));
    // The comment and the half event complete nothing: no list is handed over for them.
    expect(batches).toEqual([['a', 'b'], ['c'], ['d']]);
  });
});

describe('serverSentEvents on a failing async iterable', () => {
  it('fails with its error and does not return it, as for await does', async () => {
    const reset = new Error('connection reset');
    let returned = 0;
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => Promise.reject(reset),
        return: () => {
          returned += 1;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    };
    await expect(
      (async () => {
        for await (const event of serverSentEvents(body)) expect(event).toBeUndefined();
      })(),
    ).rejects.toBe(reset);
    expect(returned).toBe(0);
  });
});

/** A byte stream giving one chunk a pull, as a response body does. */
function streamOf(
  chunks: readonly Uint8Array[] | readonly string[],
  onCancel?: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[index++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
    },
    cancel: (reason) => onCancel?.(reason),
  });
}
