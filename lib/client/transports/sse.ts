// Session over Server-Sent Events read with fetch + eventsource-parser (docs/protocol.md,
// "Server-Sent Events"), so that headers and credentials work. Client messages go by POST.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ackReceived, base64ToBuffer, closeReason, parseHello, seqFromEventId, type Hello } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import { failure, networkError, requestInit, sessionParams, sessionUrl } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

export function openSse(ctx: TransportContext, sink: TransportSink): Transport {
  const controller = new AbortController();
  let done = false;
  let hello: Hello | undefined;
  // We ask for `eco=1`: events are numbered by order from the hello's `next`, like WebSocket
  // frames, so the server can send every member the same bytes.
  let next = 0;
  let watchdog: ReturnType<typeof setTimeout> | undefined;

  /** Stops reading; false when already stopped. */
  const stop = (): boolean => {
    if (done) return false;
    done = true;
    clearTimeout(watchdog);
    controller.abort();
    return true;
  };
  const end = (error: ClientError): void => {
    if (stop()) sink.end(error);
  };

  // The server sends a comment every `heartbeat` ms; silence for 2.5 of them means the
  // stream is dead even if TCP has not noticed (a half-open connection).
  const watch = (): void => {
    clearTimeout(watchdog);
    const beat = hello?.heartbeat ?? 0;
    if (beat > 0) watchdog = setTimeout(() => end(new ClientError('lost', `SSE: no data for ${beat * 2.5} ms`)), beat * 2.5);
  };

  const onEvent = (event: EventSourceMessage): void => {
    if (done) return;
    if (event.event === 'ec-hello') {
      const h = parseHello(parseJson(event.data));
      if (h === undefined || hello !== undefined) return end(new ClientError('protocol', 'SSE: malformed or repeated ec-hello'));
      hello = h;
      next = h.next;
      watch();
      return sink.open(h);
    }
    if (hello === undefined) return end(new ClientError('protocol', 'SSE: an event came before ec-hello'));
    if (event.event === 'ec-ack') {
      const received = ackReceived(event.data);
      if (received !== undefined) sink.received(received);
      return;
    }
    if (event.event === 'ec-close') return end(sessionClosed(closeReason(event.data)));
    onMessage(event, sink, end, next++);
  };

  const parser = createParser({ onEvent });
  const feed = (text: string): void => {
    watch();
    parser.feed(text);
  };
  void read(ctx, controller.signal, () => done, feed, end);

  return {
    name: 'sse',
    ack: () => ctx.poster.kick(true),
    close: () => void stop(),
  };
}

/** A server message, number `counted` by order (an `id:` must agree): unnamed for text, `ec-binary` for base64. */
function onMessage(event: EventSourceMessage, sink: TransportSink, end: (error: ClientError) => void, counted: number): void {
  const seq = event.id === undefined ? counted : seqFromEventId(event.id);
  if (seq === undefined || seq !== counted) return end(new ClientError('protocol', `SSE: message ${String(event.id)} where ${counted} was expected`));
  sink.message(event.event === 'ec-binary' ? base64ToBuffer(event.data) : event.data, seq);
}

/** Reads the session's event stream into `feed` until it ends or `stopped()`; `end` hears why it ended. */
async function read(ctx: TransportContext, signal: AbortSignal, stopped: () => boolean, feed: (text: string) => void, end: (error: ClientError) => void): Promise<void> {
  const url = sessionUrl(ctx.url, { ...sessionParams(ctx.session, ctx.lastSeq()), eco: 1 });
  const fetch = ctx.options.fetch;
  if (fetch === undefined) return end(unavailable('fetch'));
  let response: Response;
  try {
    response = await fetch(url, requestInit(ctx.options, { Accept: 'text/event-stream' }, signal));
  } catch (error) {
    return end(networkError('SSE request', error));
  }
  if (!response.ok || response.body === null) return end(await failure(response, 'SSE request'));
  if (!/^text\/event-stream/i.test(response.headers.get('content-type') ?? '')) {
    return end(new ClientError('refused', `SSE request answered ${response.headers.get('content-type')}, not text/event-stream`, response.status));
  }
  const error = await readStream(response.body, stopped, feed);
  if (error !== undefined) end(error);
}

/** Passes the stream's text to `feed` until it ends: the error that ends the transport, or undefined once `stopped()`. */
async function readStream(body: ReadableStream<Uint8Array>, stopped: () => boolean, feed: (text: string) => void): Promise<ClientError | undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (stopped()) return undefined;
      if (done) return new ClientError('lost', 'SSE stream ended');
      feed(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return networkError('SSE stream', error);
  }
}
