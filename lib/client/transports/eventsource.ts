// The SSE transport over the runtime's own EventSource (option `useNativeEventSource`). It
// cannot send headers or read an error status, and it hears only unnamed events and the
// reserved `ec-*` ones. Its own reconnection is switched off by closing it on the first
// error: the Connection reconnects, with its backoff and its resume parameters.
import { base64ToBuffer, isCount, isRecord, parseHello, parseJson, seqFromEventId, type Hello } from '../codec.js';
import { ClientError, sessionClosed } from '../errors.js';
import type { EventSourceLike } from '../options.js';
import { sessionParams, sessionUrl } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

export function openEventSource(ctx: TransportContext, sink: TransportSink): Transport {
  let done = false;
  let hello: Hello | undefined;
  const end = (error: ClientError): void => {
    if (done) return;
    done = true;
    source?.close();
    sink.end(error);
  };

  const Ctor = ctx.options.EventSource;
  const url = sessionUrl(ctx.url, sessionParams(ctx.session, ctx.lastSeq()));
  const source: EventSourceLike | undefined = Ctor && new Ctor(url, { withCredentials: ctx.options.credentials === 'include' });
  const transport: Transport = {
    name: 'sse',
    flush: () => undefined,
    ack: () => ctx.poster.kick(true),
    close() {
      done = true;
      source?.close();
    },
  };
  if (source === undefined) {
    queueMicrotask(() => end(new ClientError('unavailable', 'EventSource is not available in this runtime')));
    return transport;
  }
  source.addEventListener('ec-hello', (event) => {
    const h = parseHello(parseJson(event.data));
    if (done || hello !== undefined || h === undefined) return end(new ClientError('protocol', 'SSE: malformed or repeated ec-hello'));
    hello = h;
    sink.open(h);
  });
  source.addEventListener('ec-ack', (event) => {
    const body = parseJson(event.data);
    const received = isRecord(body) ? body['received'] : undefined;
    if (!done && isCount(received)) sink.received(received);
  });
  source.addEventListener('ec-close', (event) => {
    const body = parseJson(event.data);
    const reason = isRecord(body) && typeof body['reason'] === 'string' ? body['reason'] : 'server-close';
    if (!done) end(sessionClosed(reason));
  });
  const onMessage = (binary: boolean) => (event: { data: string; lastEventId: string }) => {
    if (done) return;
    const seq = seqFromEventId(event.lastEventId);
    if (hello === undefined || seq === undefined) return end(new ClientError('protocol', 'SSE: a message before ec-hello or without a sequence number'));
    sink.message(binary ? base64ToBuffer(event.data) : event.data, seq);
  };
  source.addEventListener('message', onMessage(false));
  source.addEventListener('ec-binary', onMessage(true));
  source.onerror = () => end(new ClientError(hello === undefined ? 'refused' : 'lost', `EventSource ${hello === undefined ? 'could not open' : 'lost its stream'}`));
  return transport;
}
