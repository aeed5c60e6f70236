/** One server-sent event: its `event:` name (null when none) and its `data:` lines joined. */
export interface ServerSentEvent {
  readonly event: string | null;
  readonly data: string;
}

/**
 * The events of a `text/event-stream` body as they arrive (the WHATWG format: lines ended by
 * CRLF, LF or CR, an empty line ends an event, `:` starts a comment, one space after the colon
 * is dropped). Events without data are skipped; an event the body ends before finishing is
 * dropped.
 *
 * ```ts
 * for await (const { data } of serverSentEvents(response.body)) if (data !== '[DONE]') use(JSON.parse(data));
 * ```
 */
export async function* serverSentEvents(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
): AsyncGenerator<ServerSentEvent> {
  for await (const events of serverSentEventBatches(body)) yield* events;
}

/**
 * The events of a `text/event-stream` body as `serverSentEvents` reads them, handed over a
 * piece of the body at a time: every event that piece completed, in order (never an empty
 * list). A reply whose events arrive together costs one step of the iteration, not one per
 * event.
 *
 * ```ts
 * for await (const events of serverSentEventBatches(response.body)) for (const { data } of events) use(data);
 * ```
 */
export async function* serverSentEventBatches(
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  limit?: {
    /** The longest event (or line) let grow, in characters: a body never ending one fails. */
    readonly characters: number;
    /** The most characters read in all: a body that never ends fails, whatever it sends. */
    readonly total: number;
    /** The error to fail with then. */
    readonly error: () => Error;
  },
): AsyncGenerator<ServerSentEvent[]> {
  // A response body is read with a reader that is never released: the first release in a
  // process (what `for await` does at a stream's end) costs ~2 ms, as Node builds the error a
  // released reader throws. Stopping early cancels the body, as `for await` would.
  const source = 'getReader' in body ? body.getReader() : readerOf(body);
  let ended = false;
  const decoder = new TextDecoder();
  let pending = '';
  let event: string | null = null;
  // The event's data lines joined as they come (no list per event): null while it has none.
  let data: string | null = null;
  // A CR that ended the last chunk may be the first half of a CRLF: the LF is then skipped.
  let afterCarriageReturn = false;
  // `pending` holds no line end before this index.
  let searched = 0;
  /** Characters read so far. */
  let read = 0;
  try {
    for (;;) {
      let next: Chunk;
      try {
        next = await source.read();
      } catch (error) {
        // A body that failed is not cancelled (nor an iterator returned), as `for await` does.
        ended = true;
        throw error;
      }
      if (next.done) {
        ended = true;
        break;
      }
      let text = decoder.decode(next.value, { stream: true });
      read += text.length;
      if (afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
      afterCarriageReturn = text.endsWith('\r');
      pending += text;
      const events: ServerSentEvent[] = [];
      let start = 0;
      // Each character is looked at once: the search starts where the last chunk's ended, and a
      // CR (rare) is looked for again only once the one found is behind.
      let carriageReturn = -2;
      for (;;) {
        const from = Math.max(start, searched);
        const lineFeed = pending.indexOf('\n', from);
        if (carriageReturn !== -1 && carriageReturn < from)
          carriageReturn = pending.indexOf('\r', from);
        const end =
          carriageReturn === -1
            ? lineFeed
            : lineFeed === -1
              ? carriageReturn
              : Math.min(carriageReturn, lineFeed);
        if (end === -1) break;
        const line = pending.slice(start, end);
        start =
          end + (pending.charCodeAt(end) === 13 && pending.charCodeAt(end + 1) === 10 ? 2 : 1);
        if (line === '') {
          if (data !== null) events.push({ event, data });
          event = null;
          data = null;
          continue;
        }
        // The field is what comes before the first colon (the whole line without one); only
        // `data` and `event` mean anything here, and a comment (`:` first) never matches them.
        const field = line.startsWith('data') ? 'data' : line.startsWith('event') ? 'event' : null;
        const colon = field?.length ?? 0;
        if (field === null || (line.length > colon && line.charCodeAt(colon) !== 58)) continue;
        const value = line.slice(colon + (line.charCodeAt(colon + 1) === 32 ? 2 : 1));
        if (field === 'event') event = value;
        else data = data === null ? value : `${data}\n${value}`;
      }
      pending = pending.slice(start);
      searched = pending.length;
      if (limit && (pending.length + (data?.length ?? 0) > limit.characters || read > limit.total))
        throw limit.error();
      if (events.length > 0) yield events;
    }
  } finally {
    // A failure to cancel is not the caller's: what ended the read (or nothing) is.
    if (!ended) await source.cancel().catch(() => undefined);
  }
  // An event the body ended in the middle of is dropped, as the format says: it may be cut.
}

type Chunk = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

/** An async iterable read the way a stream's reader is: `cancel` returns its iterator. */
function readerOf(body: AsyncIterable<Uint8Array>): {
  read(): Promise<Chunk>;
  cancel(): Promise<unknown>;
} {
  const iterator = body[Symbol.asyncIterator]();
  return {
    read: async () => {
      const next = await iterator.next();
      return next.done === true ? { done: true, value: undefined } : next;
    },
    cancel: async () => iterator.return?.(),
  };
}
