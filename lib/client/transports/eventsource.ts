// The SSE transport over the runtime's own EventSource (option `useNativeEventSource`). It
// cannot send headers or read an error status, and it hears only unnamed events and the
// reserved `ec-*` ones. Its own reconnection is switched off by closing it on the first
// error: the Connection reconnects, with its backoff and its resume parameters.
import { closeReason, seqFromEventId, type Hello } from '../codec.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import type { EventSourceLike } from '../options.js';
import { sessionParams, sessionUrl } from './http.js';
import { ackEvent, helloEvent, messageData } from './sse-events.js';
import { failed, type Transport, type TransportContext, type TransportSink } from './transport.js';

export function openEventSource(ctx: TransportContext, sink: TransportSink): Transport {
  const Ctor = ctx.options.EventSource;
  if (Ctor === undefined) return failed('sse', unavailable('EventSource'), sink);
  const url = sessionUrl(ctx.url, sessionParams(ctx.session, ctx.lastSeq()));
  return sourceTransport(new Ctor(url, { withCredentials: ctx.options.credentials === 'include' }), ctx, sink);
}

/** The transport over an EventSource just created: its listeners are added before it can say anything. */
function sourceTransport(source: EventSourceLike, ctx: TransportContext, sink: TransportSink): Transport {
  let done = false;
  let hello: Hello | undefined;
  const end = (error: ClientError): void => {
    if (done) return;
    done = true;
    source.close();
    sink.end(error);
  };

  source.addEventListener('ec-hello', (event) => {
    if (done) return;
    const h = helloEvent(event.data, hello);
    if (h instanceof ClientError) return end(h);
    hello = h;
    sink.open(h);
  });
  source.addEventListener('ec-ack', (event) => {
    if (!done) ackEvent(event.data, sink);
  });
  source.addEventListener('ec-close', (event) => end(sessionClosed(closeReason(event.data))));
  const onMessage = (binary: boolean) => (event: { data: string; lastEventId: string }) => {
    if (done) return;
    const seq = seqFromEventId(event.lastEventId);
    if (hello === undefined || seq === undefined) return end(new ClientError('protocol', 'SSE: a message before ec-hello or without a sequence number'));
    sink.message(messageData(binary, event.data), seq);
  };
  source.addEventListener('message', onMessage(false));
  source.addEventListener('ec-binary', onMessage(true));
  source.onerror = () => end(new ClientError(hello === undefined ? 'refused' : 'lost', `EventSource ${hello === undefined ? 'could not open' : 'lost its stream'}`));
  return {
    name: 'sse',
    ack: () => ctx.poster.kick(true),
    close() {
      done = true;
      source.close();
    },
  };
}
