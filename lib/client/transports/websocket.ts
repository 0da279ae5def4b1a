// Session over WebSocket (docs/protocol.md, "WebSocket"): server messages are numbered by
// order from the hello's `next`; client messages likewise from the hello's `received` + 1.
import { ackFrame, decodeFrame, encodeFrame, type Frame, type Hello } from '../codec.js';
import { ClientError, describeCause, sessionClosed, unavailable } from '../errors.js';
import type { WebSocketLike } from '../options.js';
import { secretProtocolPrefix, webSocketMarker, webSocketProtocol } from '../../protocol/params.js';
import { sessionParams, sessionUrl } from './http.js';
import { watchSilence } from './silence.js';
import { failed, type Transport, type TransportContext, type TransportSink } from './transport.js';

/** Close codes with which the server ends a resume for good. */
const finalCloses: Record<number, 'unknown-session' | 'resume-refused'> = { 4404: 'unknown-session', 4403: 'resume-refused', 4401: 'resume-refused' };
// Codes with which the server ends the session itself (docs/sessions.md): a protocol error or
// an oversized message. Resuming would only meet unknown-session.
const sessionEnders: Record<number, string> = {
  1002: 'protocol-error',
  1003: 'unsupported',
  1007: 'invalid-payload-data',
  1008: 'policy-violation',
  1009: 'message-too-big',
  1010: 'mandatory-extension',
};

export function openWebSocket(ctx: TransportContext, sink: TransportSink): Transport {
  const ws = createSocket(ctx);
  return ws instanceof ClientError ? failed('websocket', ws, sink) : socketTransport(ws, ctx, sink);
}

/** The socket for the session URL, or why there is none. */
function createSocket(ctx: TransportContext): WebSocketLike | ClientError {
  const Ctor = ctx.options.WebSocket;
  if (Ctor === undefined) return unavailable('WebSocket');
  try {
    // `ect=ws`: a proxy that drops the upgrade headers gets a 426 at once, not a plain channel.
    const url = sessionUrl(ctx.url, { ...sessionParams(ctx.session, ctx.lastSeq()), ect: webSocketMarker }).replace(/^http/, 'ws');
    // A browser WebSocket cannot send headers: the secret goes as a subprotocol, which the
    // server never echoes (docs/protocol.md, "The session secret").
    const secret = ctx.session?.secret;
    const ws = secret === undefined ? new Ctor(url) : new Ctor(url, [webSocketProtocol, secretProtocolPrefix + secret]);
    ws.binaryType = 'arraybuffer';
    return ws;
  } catch (error) {
    return new ClientError('refused', `WebSocket could not be created: ${String(error)}`, undefined, error);
  }
}

/** What a session socket has heard and written: the numbering of messages both ways. */
interface Numbering {
  hello: Hello | undefined;
  /** The sequence number of the next server message. */
  next: number;
  /** The client sequence number of the last message written on this socket. */
  written: number;
}

/** The transport over a socket just created: handlers are set before it can say anything. */
function socketTransport(ws: WebSocketLike, ctx: TransportContext, sink: TransportSink): Transport {
  let done = false;
  const numbering: Numbering = { hello: undefined, next: 0, written: 0 };

  /** Closes the socket (with 1000 or 4000 and `reason`); false when already done. */
  const finish = (code: number, reason?: string): boolean => !done && ((done = true), silence.stop(), reason && ws.close(code, reason), true);
  const end = (error: ClientError, reason?: string): void => void (finish(4000, reason) && sink.end(error));
  // The server beats every heartbeat, which a browser shows as a frame (docs/protocol.md).
  const silence = watchSilence('WebSocket', (error) => end(error, 'abandoned'));

  ws.onmessage = (event) => {
    if (done) return;
    if (!onFrame(decodeFrame(event.data), numbering, sink)) end(new ClientError('protocol', 'WebSocket: unexpected frame from the server'), 'protocol-error');
    silence.heartbeat = numbering.hello?.heartbeat;
    if (!done) silence.heard();
  };
  let cause: unknown;
  ws.onclose = (event) => end(closeError(event, numbering.hello !== undefined, cause));
  // An error is always followed by a close, which reports it, with the error's cause when
  // there is one (`ws` in Node gives it: a refused or reset connection; browsers do not).
  // The listener must exist: `ws` in Node throws an 'error' nobody listens to.
  ws.onerror = (event) => {
    cause = (event as { error?: unknown }).error;
  };

  return {
    name: 'websocket',
    flush() {
      if (done || numbering.hello === undefined || ws.readyState !== 1) return;
      // Counted message by message, so a send that throws leaves `written` true.
      numbering.written = Math.max(numbering.written, ctx.outbox.first - 1);
      for (let message = ctx.outbox.at(numbering.written + 1); message !== undefined; message = ctx.outbox.at(numbering.written + 1)) {
        ws.send(encodeFrame(message));
        numbering.written += 1;
      }
    },
    ack(seq) {
      if (!done && numbering.hello !== undefined && ws.readyState === 1) ws.send(ackFrame(seq));
    },
    // 1000 tells the server the application is done; 4000 that this socket is being
    // given up (an open timeout) while the session should live on.
    close: (final) => void finish(final ? 1000 : 4000, final ? 'client-close' : 'abandoned'),
  };
}

/** Hands a server frame to the sink; false when the protocol does not allow it here (the hello comes first, once). */
function onFrame(frame: Frame | undefined, numbering: Numbering, sink: TransportSink): boolean {
  if (frame === undefined || (numbering.hello === undefined) !== (frame.kind === 'hello')) return false;
  if (frame.kind === 'hello') {
    numbering.hello = frame.hello;
    numbering.next = frame.hello.next;
    numbering.written = frame.hello.received;
    sink.open(frame.hello);
  } else if (frame.kind === 'message') {
    sink.message(frame.data, numbering.next++, frame.name);
  } else if (frame.kind === 'ack') {
    // Never release what this socket has not written: a POST still in flight when we
    // switched may have delivered those, and they must still be numbered here.
    sink.received(Math.min(frame.received, numbering.written));
  }
  return true;
}

/** What a close means: a resume refused for good, the channel closed by the server, or a lost socket. */
function closeError(event: { code: number; reason: string }, opened: boolean, cause: unknown): ClientError {
  const final = finalCloses[event.code];
  if (final !== undefined) return new ClientError(final, `WebSocket closed by the server: ${event.code} ${event.reason || final}`, event.code);
  // The server sends 1000 on a session only when the channel itself closed (ch.close()).
  if (event.code === 1000 && opened) return sessionClosed(event.reason || 'server-close', 1000);
  const ender = sessionEnders[event.code];
  if (ender !== undefined && opened) return sessionClosed(ender, event.code);
  const error = new ClientError(opened ? 'lost' : 'refused', `WebSocket ${opened ? 'closed' : 'could not open'} (code ${event.code})${because(cause)}`, event.code, cause);
  // A shutdown says when to come back: `shutdown; retry=1000` (docs/protocol.md).
  const retry = /retry=(\d+)/.exec(event.reason)?.[1];
  if (retry !== undefined) error.retryAfter = Number(retry);
  return error;
}

/** `: connection refused (…)` when the socket's error event told why (ws in Node does), else nothing. */
function because(cause: unknown): string {
  return cause === undefined ? '' : `: ${describeCause(cause)}`;
}
