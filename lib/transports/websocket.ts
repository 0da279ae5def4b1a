import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type WebSocketServer } from 'ws';
import { closeCodeForReason, reasonForCloseCode, type CloseReason } from '../protocol/close-reasons.js';
import { corkForTick, uncorkNow, type Hold } from './cork.js';
import type { ServerControl } from '../protocol/control.js';
import { parseClientText, webSocketBeatText, webSocketControlText, webSocketMessageText } from '../protocol/frames.js';
import { secretProtocolPrefix } from '../protocol/params.js';
import { detachedSink, kSink, kWire, type Payload, type EncodedMessage, type Wire, type WireSink } from './wire.js';
import { buildServerFrame, closeCodeOfError, senderIdle, webSocketInternals, type SenderState } from './ws-internals.js';
import { debug, debugEnabled } from '../debug.js';

const kErrorReason = Symbol('express-channel.error-reason');
type TaggedWebSocket = WebSocket & { [kSink]: WireSink; [kWire]: WebSocketWire; [kErrorReason]?: CloseReason };

/** What completing a WebSocket handshake takes: the upgrade, and where the wire reports. */
export interface WebSocketAcceptOptions {
  /** The `noServer` ws server that runs the handshake. */
  server: WebSocketServer;
  req: IncomingMessage;
  /** The upgrade's raw socket, and the bytes read past the request head. */
  socket: Duplex;
  head: Buffer;
  sink: WireSink;
  /** True on a session: text frames carry their one-character type. */
  session: boolean;
  /** How writes are held to leave together (`flushInterval`, see cork.ts). */
  hold?: Hold | undefined;
}

/**
 * Completes the WebSocket handshake on `socket` and wraps the connection. Returns undefined
 * when the request is not a valid upgrade: it has then already been answered 400 with a
 * reason (by `ws`, or here for a version other than 13).
 */
export function acceptWebSocket({ server, req, socket, head, sink, session, hold = corkForTick }: WebSocketAcceptOptions): WebSocketWire | undefined {
  if (refusedVersion(req, socket)) return undefined;
  let accepted: WebSocket | undefined;
  // With no verifyClient and no async protocol choice, ws completes the handshake
  // synchronously: if the callback has not run when handleUpgrade returns, it refused.
  server.handleUpgrade(req, socket, head, (ws) => {
    accepted = ws;
  });
  return accepted === undefined ? undefined : new WebSocketWire(accepted, sink, { session, hold });
}

// [RFC 6455 §4.2.2] "If this version does not match a version understood by the server, the
// server MUST abort the WebSocket handshake [...] and instead send an appropriate HTTP error
// code (such as 426 Upgrade Required) and a |Sec-WebSocket-Version| header field indicating
// the version(s) the server is capable of understanding." 400, not 426: the example answer
// of §4.4 is a 400, ws answers 400 for every other version, and a 426 would also owe an
// `Upgrade` header (RFC 9110 §15.5.22). Written as ws's abortHandshake writes its answers.
const versionBody = 'Missing or invalid Sec-WebSocket-Version header';
const versionRefusal =
  'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${versionBody.length}\r\nSec-WebSocket-Version: 13\r\n\r\n${versionBody}`;

/**
 * Answers 400 with `Sec-WebSocket-Version: 13` and returns true when `req` asks for any other
 * version: ws also accepts version 8 (the pre-RFC hybi-08 draft), which we do not.
 */
export function refusedVersion(req: IncomingMessage, socket: Duplex): boolean {
  if (req.headers['sec-websocket-version'] === '13') return false;
  if (debugEnabled) debug('refused a websocket handshake: 400, Sec-WebSocket-Version %j (only 13 is spoken)', req.headers['sec-websocket-version']);
  refuseVersion(socket);
  return true;
}

function refuseVersion(socket: Duplex): void {
  socket.once('finish', socket.destroy);
  socket.end(versionRefusal);
}

/**
 * A channel's WebSocket: ws frames, text or binary as sent; ping heartbeats. On a session,
 * text frames carry a one-character type (docs/protocol.md).
 */
export class WebSocketWire implements Wire {
  readonly name = 'websocket' as const;
  /** True on a session: text frames carry their one-character type. */
  readonly session: boolean;
  readonly #ws: TaggedWebSocket;
  // Read on every write of every broadcast: looked up once, with what they mean and what
  // happens without them in ws-internals.ts. A null #sender sends every broadcast through ws.
  readonly #socket: Duplex | null;
  readonly #sender: SenderState | null;
  readonly #hold: Hold;
  #missedPongs = 0;
  #lastHeard = performance.now();

  /** The hint, in ms, a close on shutdown carries in its reason (`shutdown; retry=1000`). */
  shutdownRetry = 0;

  constructor(ws: WebSocket, sink: WireSink, { session, hold = corkForTick }: { session: boolean; hold?: Hold | undefined }) {
    const tagged = ws as TaggedWebSocket;
    this.#hold = hold;
    tagged[kSink] = sink;
    tagged[kWire] = this;
    this.session = session;
    const { socket, sender } = webSocketInternals(ws);
    this.#socket = socket;
    this.#sender = sender;
    tagged.on('message', wsOnMessage);
    tagged.on('close', wsOnClose);
    tagged.on('error', wsOnError);
    tagged.on('pong', wsOnPong);
    this.#ws = tagged;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  send(payload: Payload | undefined): void {
    if (payload === undefined || this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#socket !== null) this.#hold(this.#socket);
    const isText = typeof payload === 'string';
    this.#ws.send(isText && this.session ? webSocketMessageText(payload) : payload, { binary: !isText });
  }

  sendControl(control: ServerControl): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (this.#socket !== null) this.#hold(this.#socket);
    this.#ws.send(webSocketControlText(control));
  }

  flush(): boolean {
    return this.#socket !== null && uncorkNow(this.#socket);
  }

  detach(): void {
    this.#ws[kSink] = detachedSink;
    this.#ws.terminate();
  }

  release(): void {
    this.#ws[kSink] = detachedSink;
    // 1012 (service restart): not a code that ends the session, so the client resumes. ws
    // sends the close frame behind what is already written, which leaves now, not at the
    // end of a latency budget.
    this.flush();
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1012, 'resume');
    else this.#ws.terminate();
  }

  writeShared(message: EncodedMessage): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    const sender = this.#sender;
    const socket = this.#socket;
    // Writing the shared frame directly is only safe while ws's sender has nothing of its
    // own pending (deflate or Blob reads); otherwise route through ws to keep order.
    if (sender === null || socket === null || !senderIdle(sender)) return this.send(message.payload);
    this.#hold(socket);
    for (const chunk of this.session ? message.forSessionWebSocket() : message.forWebSocket()) socket.write(chunk);
  }

  /** Milliseconds since the peer last answered a ping or sent a message. */
  get silentFor(): number {
    return performance.now() - this.#lastHeard;
  }

  heartbeat(): boolean {
    if (this.#missedPongs >= 2) return false;
    this.#missedPongs++;
    if (this.#ws.readyState !== WebSocket.OPEN) return true;
    // The client library cannot see the ping (browsers hide them): a session also gets a beat,
    // in one write with the ping. Both leave now, with what is held before them: held for a
    // latency budget longer than two heartbeat periods, the pong would come too late and a
    // live peer be dropped.
    if (this.#socket !== null) this.#hold(this.#socket);
    if (this.session) this.#ws.send(webSocketBeatText);
    this.#ws.ping();
    this.flush();
    return true;
  }

  pauseReading(paused: boolean): void {
    if (paused) this.#ws.pause();
    else this.#ws.resume();
  }

  end(reason: CloseReason): void {
    const ws = this.#ws;
    // A peer that stopped answering pings gets no close handshake: it would never finish.
    if (reason === 'client-away') return ws.terminate();
    // What was sent before the close leaves first, and now: the close frame ws writes next
    // would otherwise wait behind a held write for the rest of a latency budget.
    this.flush();
    if (reason === 'slow-consumer') closeThenDrop(ws);
    else if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(closeCodeForReason(reason), closeText(reason, this.shutdownRetry));
  }

  /** @internal */
  pong(): void {
    this.#missedPongs = 0;
    this.#lastHeard = performance.now();
  }
}

// A slow consumer gets its close frame, but one that stopped reading would leave it (and
// everything queued before it) unread for ws's 30 s close timeout: drop it after a second.
const slowConsumerGrace = 1000;

function closeThenDrop(ws: WebSocket): void {
  if (ws.readyState === WebSocket.OPEN) ws.close(closeCodeForReason('slow-consumer'));
  setTimeout(terminateSocket, slowConsumerGrace, ws).unref();
}

function terminateSocket(ws: WebSocket): void {
  if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

/** Builds the unmasked server frame of a broadcast once, for every WebSocket member. */
export function frameForWebSocket(payload: Payload): Buffer[] {
  const isText = typeof payload === 'string';
  const parts = buildServerFrame(isText ? Buffer.from(payload) : payload, isText ? 1 : 2);
  // One buffer per frame: a member's write is then one chunk, not header + payload, which
  // halves the stream bookkeeping and the iovecs of every writev.
  return parts.length === 1 ? parts : [Buffer.concat(parts)];
}

// A throw in a socket listener would reach the process as an uncaught exception: each one
// reports to its channel instead, which closes alone.
function wsOnMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  try {
    receiveFrame(this as TaggedWebSocket, data, isBinary);
  } catch (error) {
    (this as TaggedWebSocket)[kSink].failed(error);
  }
}

function receiveFrame(ws: TaggedWebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  ws[kWire].pong(); // any message proves the peer alive
  if (isBinary) return ws[kSink].received(buffer);
  const text = buffer.toString('utf8');
  if (!ws[kWire].session) return ws[kSink].received(text);
  const frame = parseClientText(text);
  if ('message' in frame) ws[kSink].received(frame.message);
  else if ('control' in frame) ws[kSink].control(frame.control);
  else ws.close(1002, frame.error);
}

function wsOnClose(this: WebSocket, code: number): void {
  const ws = this as TaggedWebSocket;
  try {
    ws[kSink].ended(ws[kErrorReason] ?? reasonForCloseCode(code));
  } catch (error) {
    ws[kSink].failed(error);
  }
}

// ws closes the connection itself after a protocol error (bad frame, payload too big), but
// stops reading at once, so its 'close' event reports 1006: remember the real reason here.
// The listener also keeps the error from crashing the process ('error' with no listener throws).
function wsOnError(this: WebSocket, error: Error): void {
  const ws = this as TaggedWebSocket;
  ws[kErrorReason] ??= reasonForCloseCode(closeCodeOfError(error));
}

function wsOnPong(this: WebSocket): void {
  (this as TaggedWebSocket)[kWire].pong();
}

/**
 * The subprotocol a handshake answers with: the first the client offered, as `ws` does by
 * default, but never the one carrying a session secret, which the response would echo.
 */
export function chooseProtocol(offered: Set<string>): string | false {
  for (const protocol of offered) if (!protocol.startsWith(secretProtocolPrefix)) return protocol;
  return false;
}

/** A close frame's reason text: a shutdown tells when to come back (docs/protocol.md). */
function closeText(reason: CloseReason, shutdownRetry: number): string | undefined {
  return reason === 'shutdown' && shutdownRetry > 0 ? `shutdown; retry=${shutdownRetry}` : undefined;
}
