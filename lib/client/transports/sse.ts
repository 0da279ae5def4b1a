// Session over Server-Sent Events read with fetch + eventsource-parser (docs/protocol.md,
// "Server-Sent Events"), so that headers and credentials work. Client messages go by POST.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { closeReason, seqFromEventId, type Hello } from '../codec.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import { failure, networkError, requestInit, secretHeaders, sessionParams, sessionUrl } from './http.js';
import { ackEvent, helloEvent, messageEvent } from './sse-events.js';
import { watchSilence } from './silence.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

/** How the event stream is read: `feed` takes its text until `stopped()`; `end` hears why it ended. */
interface StreamReader {
  stopped(): boolean;
  feed(text: string): void;
  end(error: ClientError): void;
}

/** ms from the request to the hello before the stream counts as held back by a proxy (docs/deployment.md). */
const helloBudget = 600;

export function openSse(ctx: TransportContext, sink: TransportSink): Transport {
  const controller = new AbortController();
  let done = false;
  /** Stops reading; false when already stopped. */
  const stop = (): boolean => {
    if (done) return false;
    done = true;
    clearTimeout(helloTimer);
    silence.stop();
    controller.abort();
    return true;
  };
  let retryHint: number | undefined;
  const end = (error: ClientError): void => {
    error.retryAfter ??= retryHint;
    if (stop()) sink.end(error);
  };

  // The server sends a comment every heartbeat (the hello's).
  const silence = watchSilence('SSE', end);
  const onEvent = sessionEvents(sink, end, (hello) => {
    silence.heartbeat = hello.heartbeat ?? 0;
    silence.heard();
  });
  const parser = createParser({
    onEvent: (event) => void (done || onEvent(event)),
    // Every stream starts with `retry:` for plain EventSources; one after the hello is the
    // server's hint on shutdown, for the reconnect that follows.
    onRetry: (ms) => void (silence.heartbeat !== undefined && (retryHint = ms)),
  });
  const feed = (text: string): void => void (clearTimeout(helloTimer), silence.heard(), parser.feed(text));
  // The server writes the hello with the headers: no byte of it helloBudget ms after the
  // request means a proxy holds the stream back, and polling will do better (docs/deployment.md).
  const helloTimer = setTimeout(() => end(new ClientError('buffered', `SSE: no hello within ${helloBudget} ms: a proxy is holding the stream back`)), helloBudget);
  void read(ctx, controller.signal, { stopped: () => done, feed, end });

  return {
    name: 'sse',
    ack: () => ctx.poster.kick(true),
    close: () => void stop(),
  };
}

/**
 * The session's reading of its events: the hello first (`opened` hears it before the sink),
 * then acknowledgements, the close, and messages. We ask for `eco=1`: messages are numbered
 * by order from the hello's `next`, like WebSocket frames, so the server can send every member
 * the same bytes; an `id:` must agree. Unnamed events are text, `ec-binary` ones base64.
 */
function sessionEvents(sink: TransportSink, end: (error: ClientError) => void, opened: (hello: Hello) => void): (event: EventSourceMessage) => void {
  let hello: Hello | undefined;
  let next = 0;
  return (event) => {
    if (event.event === 'ec-hello') {
      const h = helloEvent(event.data, hello);
      if (h instanceof ClientError) return end(h);
      hello = h;
      next = h.next;
      opened(h);
      return sink.open(h);
    }
    if (hello === undefined) return end(new ClientError('protocol', 'SSE: an event came before ec-hello'));
    if (event.event === 'ec-ack') return ackEvent(event.data, sink);
    if (event.event === 'ec-close') return end(sessionClosed(closeReason(event.data)));
    const seq = next++;
    if (event.id !== undefined && seqFromEventId(event.id) !== seq) return end(new ClientError('protocol', `SSE: message ${event.id} where ${seq} was expected`));
    const message = messageEvent(event.event, event.data);
    if (message === undefined) return end(new ClientError('protocol', 'SSE: malformed ec-binary event'));
    sink.message(message.data, seq, message.name);
  };
}

/** Reads the session's event stream into the reader until it ends or is stopped. */
async function read(ctx: TransportContext, signal: AbortSignal, reader: StreamReader): Promise<void> {
  const url = sessionUrl(ctx.url, { ...sessionParams(ctx.session, ctx.lastSeq()), eco: 1 });
  const fetch = ctx.options.fetch;
  if (fetch === undefined) return reader.end(unavailable('fetch'));
  let response: Response;
  try {
    response = await fetch(url, requestInit(ctx.options, { Accept: 'text/event-stream', ...secretHeaders(ctx.session) }, signal));
  } catch (error) {
    return reader.end(networkError('SSE request', error));
  }
  if (!response.ok || response.body === null) return reader.end(await failure(response, 'SSE request'));
  if (!/^text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
    return reader.end(new ClientError('refused', `SSE request answered ${response.headers.get('content-type')}, not text/event-stream`, response.status));
  }
  const error = await readStream(response.body, reader);
  if (error !== undefined) reader.end(error);
}

/** Passes the stream's text to `reader.feed` until it ends: the error that ends the transport, or undefined once stopped. */
async function readStream(body: ReadableStream<Uint8Array>, reader: StreamReader): Promise<ClientError | undefined> {
  const stream = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await stream.read();
      if (reader.stopped()) return undefined;
      if (done) return new ClientError('lost', 'SSE stream ended');
      reader.feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return networkError('SSE stream', error);
  }
}
