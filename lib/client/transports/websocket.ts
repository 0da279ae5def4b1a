// Session over WebSocket (docs/protocol.md, "WebSocket"): server messages are numbered by
// order from the hello's `next`; client messages likewise from the hello's `received` + 1.
import { ackFrame, decodeFrame, encodeFrame, type Hello } from '../codec.js';
import { ClientError, sessionClosed } from '../errors.js';
import type { WebSocketLike } from '../options.js';
import { sessionParams, sessionUrl } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

/** Close codes with which the server ends a resume for good. */
const finalCloses: Record<number, 'unknown-session' | 'resume-refused'> = { 4404: 'unknown-session', 4403: 'resume-refused' };

export function openWebSocket(ctx: TransportContext, sink: TransportSink): Transport {
  let ws: WebSocketLike | undefined;
  let done = false;
  let hello: Hello | undefined;
  let nextSeq = 0; // sequence number of the next server message
  let written = 0; // client sequence number of the last message written on this socket

  const end = (error: ClientError, closeSocket = false): void => {
    if (done) return;
    done = true;
    if (closeSocket) ws?.close(4000, 'protocol-error');
    sink.end(error);
  };

  const Ctor = ctx.options.WebSocket;
  try {
    if (Ctor === undefined) throw new ClientError('unavailable', 'WebSocket is not available in this runtime');
    const url = sessionUrl(ctx.url, sessionParams(ctx.session, ctx.lastSeq())).replace(/^http/, 'ws');
    ws = new Ctor(url);
    ws.binaryType = 'arraybuffer';
  } catch (error) {
    const failure = error instanceof ClientError ? error : new ClientError('refused', `WebSocket could not be created: ${String(error)}`, undefined, error);
    queueMicrotask(() => end(failure));
  }

  const transport: Transport = {
    name: 'websocket',
    flush() {
      if (done || hello === undefined || ws === undefined || ws.readyState !== 1) return;
      written = Math.max(written, ctx.outbox.first - 1);
      for (let message = ctx.outbox.at(written + 1); message !== undefined; message = ctx.outbox.at(written + 1)) {
        ws.send(encodeFrame(message));
        written += 1;
      }
    },
    ack(seq) {
      if (!done && hello !== undefined && ws?.readyState === 1) ws.send(ackFrame(seq));
    },
    close(final) {
      if (done) return;
      done = true;
      // 1000 tells the server the application is done; 4000 that this socket is being
      // given up (an open timeout) while the session should live on.
      ws?.close(final ? 1000 : 4000, final ? 'client-close' : 'abandoned');
    },
  };
  if (ws === undefined) return transport;

  ws.onmessage = (event) => {
    if (done) return;
    const frame = decodeFrame(event.data);
    if (frame === undefined || (hello === undefined) !== (frame.kind === 'hello')) {
      return end(new ClientError('protocol', 'WebSocket: unexpected frame from the server'), true);
    }
    if (frame.kind === 'hello') {
      hello = frame.hello;
      nextSeq = hello.next;
      written = hello.received;
      sink.open(hello);
    } else if (frame.kind === 'message') {
      sink.message(frame.data, nextSeq++);
    } else if (frame.kind === 'ack') {
      sink.received(frame.received);
    }
  };
  ws.onclose = (event) => {
    const final = finalCloses[event.code];
    if (final !== undefined) return end(new ClientError(final, `WebSocket closed by the server: ${event.code} ${event.reason || final}`, event.code));
    // The server sends 1000 on a session only when the channel itself closed (ch.close()).
    if (event.code === 1000 && hello !== undefined) return end(sessionClosed(event.reason || 'server-close', 1000));
    const what = hello === undefined ? 'refused' : 'lost';
    end(new ClientError(what, `WebSocket ${hello === undefined ? 'could not open' : 'closed'} (code ${event.code})`, event.code));
  };
  // An error is always followed by a close, which reports it. The listener must exist: `ws`
  // in Node throws an 'error' nobody listens to.
  ws.onerror = () => undefined;
  return transport;
}
