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
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  let event: string | null = null;
  let data: string[] = [];
  // A CR that ended the last chunk may be the first half of a CRLF: the LF is then skipped.
  let afterCarriageReturn = false;
  for await (const bytes of body) {
    let text = decoder.decode(bytes, { stream: true });
    if (afterCarriageReturn && text.startsWith('\n')) text = text.slice(1);
    afterCarriageReturn = text.endsWith('\r');
    pending += text;
    let start = 0;
    for (;;) {
      const end = lineEnd(pending, start);
      if (end === -1) break;
      const line = pending.slice(start, end);
      start = end + (pending.charCodeAt(end) === 13 && pending.charCodeAt(end + 1) === 10 ? 2 : 1);
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n') };
        event = null;
        data = [];
        continue;
      }
      if (line.charCodeAt(0) === 58) continue; // ':' a comment
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
    }
    pending = pending.slice(start);
  }
  // An event the body ended in the middle of is dropped, as the format says: it may be cut.
}

/** The index of the next CR or LF at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  const cr = text.indexOf('\r', from);
  if (cr === -1) return lf;
  if (lf === -1) return cr;
  return Math.min(cr, lf);
}
