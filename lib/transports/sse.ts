import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CloseReason } from '../protocol/close-reasons.js';
import { corkForTick, uncorkNow, type Hold } from './cork.js';
import { formatSseEvent, formatSseRetry, sseHeartbeat } from './sse-format.js';
import type { ServerControl } from '../protocol/control.js';
import { sseIdLine } from '../protocol/frames.js';
import { sseControlEvent } from './sse-session-events.js';
import { detachedSink, kSink, type Head, type Payload, type SendFields, type EncodedMessage, type Wire, type WireSink } from './wire.js';

type TaggedResponse = ServerResponse & { [kSink]: WireSink };
/** The socket of a stream handed over from its response: its channel's sink, and the response while users listen to its 'close'. */
type StreamSocket = Socket & { server?: { timeout?: number }; [kSink]: WireSink; [kResponse]?: HandedResponse | undefined; _httpMessage?: object | null; destroySoon?(): void };
type HandedResponse = ServerResponse & { [kSocket]: StreamSocket; [kClosers]?: readonly Listener[]; _last: boolean };
type Listener = (...args: unknown[]) => void;

const kResponse = Symbol('express-channel.sse-response');
const kSocket = Symbol('express-channel.sse-socket');
const kClosers = Symbol('express-channel.sse-closers');

/** A session stream: what its `id:` lines start with, and whether events carry them. */
export interface SseSession {
  /** `SESSION.SECRET` (docs/protocol.md, "Server-Sent Events"). */
  eventIdPrefix: string;
  idLines: boolean;
}

/** What opening an event stream takes. */
export interface SseWireOptions {
  req: IncomingMessage;
  res: ServerResponse;
  /** Status and headers of the first send, written with the stream's own headers. */
  head: Head;
  sink: WireSink;
  /** The `retry:` hint, in milliseconds, written when the server shuts down. */
  shutdownRetry: number;
  /** Makes this a session stream (docs/protocol.md, "Server-Sent Events"). */
  session?: SseSession | undefined;
  /** How writes are held to leave together (`flushInterval`, see cork.ts). */
  hold?: Hold | undefined;
}

const sessionRetry = 1000;
const slowConsumerGrace = 1000;

/** Headers every event stream needs; the user's headers from the first send come on top. */
const sseHeaders: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform keeps compression() and transforming proxies from buffering the stream.
  'cache-control': 'no-cache, no-transform',
  // nginx buffers proxied responses unless told not to.
  'x-accel-buffering': 'no',
};

/**
 * A channel's Server-Sent Events stream. The headers go out through `res` (so headers set by
 * earlier middleware, such as CORS, are kept); events are then written to the socket itself,
 * which is about twice as fast as Express's `res.write` and cannot be buffered by it.
 *
 * Once the headers are out, the response is finished as far as Node's HTTP server is
 * concerned (it has nothing more to write through it) and the stream lives on the socket
 * alone: the server lets go of the request and the response, which Express decorated and
 * which would otherwise stay alive as long as the stream (about 4 KiB a channel). See
 * {@link handOver}.
 */
export class SseWire implements Wire {
  readonly name = 'sse' as const;
  // Where the channel's sink is kept: the socket of a stream, the response of a HEAD answer.
  readonly #holder: { [kSink]: WireSink };
  readonly #socket: StreamSocket | null;
  readonly #shutdownRetry: number;
  // A session stream's id-line prefix and id-line choice, as plain fields: read for every member of every
  // broadcast, where one object less to reach is one cache miss less.
  readonly #eventIdPrefix: string | undefined;
  readonly #idLines: boolean;
  readonly #hold: Hold;

  constructor({ req, res, head, sink, shutdownRetry, session, hold = corkForTick }: SseWireOptions) {
    this.#hold = hold;
    this.#shutdownRetry = shutdownRetry;
    this.#eventIdPrefix = session?.eventIdPrefix;
    this.#idLines = session?.idLines ?? false;
    // The body is delimited by the end of the connection, so no chunked framing is needed
    // and the socket can be written directly.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    // Corked first, so that the headers, the `retry:` and the session's hello leave in one
    // write and arrive together: the client takes a hello that is late as a proxy holding the
    // stream back (docs/deployment.md, "What the library does for you").
    if (res.socket !== null) hold(res.socket);
    res.writeHead(head.status ?? 200, { ...(head.headers as OutgoingHttpHeaders | undefined), ...sseHeaders });
    res.flushHeaders();
    const socket = res.socket as StreamSocket | null;
    // Claimed after the client left (the route awaited something): 'close' already fired.
    const gone = socket === null || socket.destroyed;
    if (req.method === 'HEAD' || gone) {
      // A HEAD response gets no body: with no socket to write to, every write is skipped. It
      // is complete once its headers are out (RFC 9110 §9.3.2): end it, and the 'close' that
      // follows tells the channel.
      const tagged = res as TaggedResponse;
      tagged[kSink] = sink;
      tagged.on('close', responseOnClose);
      this.#holder = tagged;
      this.#socket = null;
      res.end();
    } else {
      socket[kSink] = sink;
      socket.on('close', socketOnClose);
      this.#holder = socket;
      this.#socket = socket;
      // On the next tick: `res.end()` lifts every cork of its socket, and what this tick
      // writes (the headers, the `retry:`, a session's hello) must leave together first.
      process.nextTick(handOver, res, socket);
    }
    // A plain EventSource waits 3 s (its default) before reconnecting; a session resumes
    // without loss, so ask for a quicker return.
    if (session !== undefined) this.#write(formatSseRetry(sessionRetry));
    if (gone) queueMicrotask(() => sink.ended('client-close'));
  }

  get bufferedBytes(): number {
    return this.#socket?.writableLength ?? 0;
  }

  get numbered(): boolean {
    return this.#idLines;
  }

  send(payload: Payload | undefined, fields: SendFields): void {
    if (payload !== undefined) this.#write(plainEvent(payload, fields));
  }

  writeShared(message: EncodedMessage, seq?: number): void {
    const prefix = this.#eventIdPrefix;
    if (prefix !== undefined) {
      // A client that counts events (the client library) gets the shared bytes as they are;
      // one that relies on Last-Event-ID (a plain EventSource) gets its own id line with them
      // (such a stream is `numbered`, so the channel always passes `seq`).
      this.#write(this.#idLines && seq !== undefined ? withIdLine(sseIdLine(prefix, seq), message.forSessionSse()) : message.forSessionSse());
      return;
    }
    this.#write(message.forSse());
  }

  flush(): boolean {
    return this.#socket !== null && uncorkNow(this.#socket);
  }

  sendControl(control: ServerControl): void {
    this.#write(sseControlEvent(control));
  }

  release(): void {
    this.#holder[kSink] = detachedSink;
    this.flush();
    this.#endStream(); // after what was written: the client reads it, then the end, and comes back
  }

  detach(): void {
    this.#holder[kSink] = detachedSink;
    // Superseded or too slow: the client will not read an orderly end, so free the socket.
    this.#socket?.destroy();
  }

  heartbeat(): boolean {
    if (this.#socket?.destroyed === true) this.#holder[kSink].ended('client-close');
    else this.#write(sseHeartbeat);
    return true;
  }

  pauseReading(): void {
    // An event stream carries nothing from the client.
  }

  end(reason: CloseReason): void {
    if (reason === 'shutdown') this.#write(formatSseRetry(this.#shutdownRetry));
    // A session client takes the end of a stream for a lost connection and comes back; tell
    // it the channel itself closed. (On shutdown it should come back: the server restarts.)
    else if (this.#eventIdPrefix !== undefined) this.#write(sseControlEvent({ type: 'close', reason }));
    // What is held leaves now, before the end, not at the end of a latency budget.
    this.flush();
    this.#endStream();
    // A client that stopped reading would never read the end of the stream, and its socket
    // would hold the buffered bytes forever: drop it after a grace period.
    if (reason === 'slow-consumer' && this.#socket !== null) setTimeout(destroySocket, slowConsumerGrace, this.#socket).unref();
  }

  // Ends the stream after what was written to it, as Node's HTTP server ends a response that
  // closes its connection (and a HEAD answer has already ended).
  #endStream(): void {
    const socket = this.#socket;
    if (socket === null || socket.destroyed) return;
    if (socket.destroySoon !== undefined) socket.destroySoon();
    else socket.end();
  }

  #write(chunk: string | Buffer | Buffer[]): void {
    const socket = this.#socket;
    if (socket === null || !socket.writable) return; // `writable` is false once destroyed
    this.#hold(socket);
    if (Array.isArray(chunk)) for (const part of chunk) socket.write(part);
    else socket.write(chunk);
  }
}

// Up to this size a session event is copied behind its id line into one chunk: one small
// copy is cheaper than a second chunk in every writev. Larger events go as two chunks.
const copyLimit = 4096;

/** A session member's bytes: its own `id:` line, then the event shared by every member. */
function withIdLine(idLine: string, event: Buffer): Buffer | Buffer[] {
  const idLength = idLine.length; // ASCII: session ids and secrets are base64url, sequence numbers digits
  if (event.length > copyLimit) return [Buffer.from(idLine, 'latin1'), event];
  const chunk = Buffer.allocUnsafe(idLength + event.length);
  chunk.write(idLine, 0, 'latin1');
  event.copy(chunk, idLength);
  return chunk;
}

/** Builds a broadcast's SSE event once, for every SSE member. */
export function eventForSse(payload: Payload, fields: SendFields): Buffer {
  return Buffer.from(plainEvent(payload, fields));
}

// A plain stream is text: bytes are sent as their UTF-8 reading.
function plainEvent(payload: Payload, fields: SendFields): string {
  return formatSseEvent(typeof payload === 'string' ? payload : payload.toString('utf8'), fields);
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

/**
 * Finishes `res` (its headers are out; its body will be written to the socket) without ending
 * the connection, so that Node's HTTP server does what it does for every finished response:
 * it detaches the response from the socket and drops the request from its queue, and both
 * can be collected. `_last` is the server's own "close the connection after this response"
 * flag (set since `shouldKeepAlive` is false): cleared, the server keeps the socket open. What
 * stays correct once it has let go: see `streamInProgress` (the connection still counts as
 * busy) and `responseOnFinish` (a user's `res.on('close')` hears the end of the stream); the
 * stream is ended by ending the socket.
 */
function handOver(res: ServerResponse, socket: StreamSocket): void {
  // Ended already (closed in the tick it was claimed): Node ends the response with the socket.
  if (!socket.writable) return;
  const handed = res as HandedResponse;
  handed[kSocket] = socket;
  handed._last = false;
  // Corked across the server's 'finish' listener: a request pipelined behind the stream gets
  // the socket there, and what its response writes must not reach the client (below).
  // (`on`, not `once`: a response finishes once, and the wrappers are allocations per stream.)
  handed.prependListener('finish', corkSocket);
  handed.on('finish', responseOnFinish);
  res.end();
}

function corkSocket(this: HandedResponse): void {
  this[kSocket].cork();
}

// Runs after the server's own 'finish' listener (registered before the route saw `res`),
// which has detached the socket, dropped the request and set a keep-alive timeout.
function responseOnFinish(this: HandedResponse): void {
  const socket = this[kSocket];
  // A request pipelined behind the event stream would now be answered onto it: a client
  // that does that is broken, and loses its connection (what was corked is dropped with it).
  if (socket._httpMessage != null) {
    socket.destroy();
    return;
  }
  socket.uncork();
  // The stream carries no more requests: the keep-alive timeout the server just armed goes,
  // and the server's own idle timeout (`server.timeout`, 0 by default) applies again.
  socket.setTimeout(socket.server?.timeout ?? 0);
  socket._httpMessage = streamInProgress;
  // The response's own 'close' comes on the next tick: its listeners hear the stream's end instead.
  const listeners = this.rawListeners('close') as Listener[];
  if (listeners.length === 0) return;
  this.removeAllListeners('close');
  (socket[kResponse] = this)[kClosers] = listeners;
}

/**
 * What the socket of a stream shows Node's HTTP server in place of the response it let go:
 * a response still being written. So the server goes on treating the connection as busy —
 * `server.close()` and `closeIdleConnections()` leave it open (`live.close()` ends it with
 * its `retry:` hint), a request pipelined behind the stream waits in the server's queue and
 * is never answered onto it, and a parse error is not answered with a 400 written into the
 * stream — instead of as idle. These are the fields Node's server reads of
 * `socket._httpMessage` (node/lib/_http_server.js: `closeIdleConnections`, `socketOnDrain`,
 * `socketOnTimeout`, `socketOnError`, `socketOnEnd`, `parserOnIncoming`); it is shared by
 * every stream, and nothing of it is per stream.
 */
const streamInProgress = { finished: false, _headerSent: true, _last: false, emit: (): boolean => false };

/**
 * True for a socket that carries an event stream: a request that arrives on it was sent
 * behind the stream, and must not be answered onto it (the middleware drops the connection).
 */
export function carriesEventStream(socket: Socket | null): boolean {
  return socket !== null && (socket as Partial<StreamSocket>)[kSink] !== undefined;
}

function socketOnClose(this: StreamSocket): void {
  try {
    this[kSink].ended('client-close');
  } catch (error) {
    this[kSink].failed(error);
  }
  const res = this[kResponse];
  if (res === undefined) return;
  this[kResponse] = undefined;
  for (const listener of res[kClosers] ?? []) res.on('close', listener);
  res.emit('close');
}

function responseOnClose(this: TaggedResponse): void {
  try {
    this[kSink].ended('client-close');
  } catch (error) {
    this[kSink].failed(error);
  }
}
