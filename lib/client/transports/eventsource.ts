// The SSE transport over the runtime's own EventSource (option `useNativeEventSource`). It
// cannot send headers or read an error status, and it hears only unnamed events and the
// reserved `ec-*` ones. Its own reconnection is switched off by closing it on the first
// error: the Connection reconnects, with its backoff and its resume parameters.
// Without headers it cannot send the session secret either: a resume first trades the secret
// (in a POST's header) for a single-use ticket, and only the ticket goes in the stream's URL.
import { closeReason, isRecord, seqFromEventId, type Hello } from '../codec.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import type { EventSourceConstructor, EventSourceLike } from '../options.js';
import { postNothing, sessionParams, sessionUrl, type SessionKey } from './http.js';
import { ackEvent, helloEvent, messageEvent } from './sse-events.js';
import { failed, type Transport, type TransportContext, type TransportSink } from './transport.js';

export function openEventSource(ctx: TransportContext, sink: TransportSink): Transport {
  const Ctor = ctx.options.EventSource;
  if (Ctor === undefined) return failed('sse', unavailable('EventSource'), sink);
  const session = ctx.session;
  if (session === undefined) return sourceTransport(createSource(Ctor, ctx, {}), ctx, sink);
  let current: Transport | undefined;
  let closed = false;
  void ticketFor(ctx, session).then((ticket) => {
    if (closed) return;
    if (ticket instanceof ClientError) return sink.end(ticket);
    current = sourceTransport(createSource(Ctor, ctx, { ecr: ticket }), ctx, sink);
  });
  return {
    name: 'sse',
    ack: () => ctx.poster.kick(true),
    close(final) {
      closed = true;
      current?.close(final);
    },
  };
}

function createSource(Ctor: EventSourceConstructor, ctx: TransportContext, extra: Record<string, string>): EventSourceLike {
  const url = sessionUrl(ctx.url, { ...sessionParams(ctx.session, ctx.lastSeq()), ...extra });
  return new Ctor(url, { withCredentials: ctx.options.credentials === 'include' });
}

/** A single-use resume ticket for `session` (docs/protocol.md, "Resume tickets"), or why there is none. */
async function ticketFor(ctx: TransportContext, session: SessionKey): Promise<string | ClientError> {
  const url = sessionUrl(ctx.url, { ecs: session.id, eca: ctx.lastSeq(), ecr: 'new' });
  try {
    const body = await postNothing(ctx.options, url, { session, signal: AbortSignal.timeout(ctx.options.openTimeout) });
    const ticket = isRecord(body) ? body['ticket'] : undefined;
    return typeof ticket === 'string' ? ticket : new ClientError('protocol', 'POST answered without "ticket"');
  } catch (error) {
    return error as ClientError;
  }
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
  source.addEventListener('ec-ack', (event) => done || ackEvent(event.data, sink));
  source.addEventListener('ec-close', (event) => end(sessionClosed(closeReason(event.data))));
  const onMessage = (type: string) => (event: { data: string; lastEventId: string }) => {
    if (done) return;
    const seq = seqFromEventId(event.lastEventId);
    if (hello === undefined || seq === undefined) return end(new ClientError('protocol', 'SSE: a message before ec-hello or without a sequence number'));
    const message = messageEvent(type, event.data);
    if (message === undefined) return end(new ClientError('protocol', 'SSE: malformed ec-binary event'));
    sink.message(message.data, seq, message.name);
  };
  // An EventSource dispatches a named event only to listeners of that name: one for each
  // name the application listens for, now and later (listen).
  const listen = (name: string): void => source.addEventListener(name, onMessage(name));
  ['message', 'ec-binary', ...ctx.names].forEach(listen);
  source.onerror = () => end(new ClientError(hello === undefined ? 'refused' : 'lost', `EventSource ${hello === undefined ? 'could not open' : 'lost its stream'}`));
  return {
    name: 'sse',
    ack: () => ctx.poster.kick(true),
    listen,
    close() {
      done = true;
      source.close();
    },
  };
}
