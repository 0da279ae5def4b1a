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
 */
export class SseWire implements Wire {
  readonly name = 'sse' as const;
  readonly #res: TaggedResponse;
  readonly #socket: Socket | null;
  readonly #shutdownRetry: number;
  // A session stream's id-line prefix and id-line choice, as plain fields: read for every member of every
  // broadcast, where one object less to reach is one cache miss less.
  readonly #eventIdPrefix: string | undefined;
  readonly #idLines: boolean;
  readonly #hold: Hold;

  constructor({ req, res, head, sink, shutdownRetry, session, hold = corkForTick }: SseWireOptions) {
    const tagged = res as TaggedResponse;
    this.#hold = hold;
    tagged[kSink] = sink;
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
    this.#res = tagged;
    const socket = res.socket;
    const headOnly = req.method === 'HEAD';
    // A HEAD response gets no body: with no socket to write to, every write is skipped.
    this.#socket = headOnly ? null : socket;
    tagged.on('close', responseOnClose);
    // A plain EventSource waits 3 s (its default) before reconnecting; a session resumes
    // without loss, so ask for a quicker return.
    if (session !== undefined) this.#write(formatSseRetry(sessionRetry));
    // A HEAD response is complete once its headers are out (RFC 9110 §9.3.2): end it, and
    // the 'close' that follows tells the channel.
    if (headOnly) res.end();
    // Claimed after the client left (the route awaited something): 'close' already fired.
    if (socket === null || socket.destroyed) queueMicrotask(() => sink.ended('client-close'));
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
    this.#res[kSink] = detachedSink;
    this.flush();
    this.#res.end(); // after what was written: the client reads it, then the end, and comes back
  }

  detach(): void {
    this.#res[kSink] = detachedSink;
    // Superseded or too slow: the client will not read an orderly end, so free the socket.
    this.#socket?.destroy();
  }

  heartbeat(): boolean {
    if (this.#socket?.destroyed === true) this.#res[kSink].ended('client-close');
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
    this.#res.end();
    // A client that stopped reading would never read the end of the stream, and its socket
    // would hold the buffered bytes forever: drop it after a grace period.
    if (reason === 'slow-consumer' && this.#socket !== null) setTimeout(destroySocket, slowConsumerGrace, this.#socket).unref();
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

function responseOnClose(this: TaggedResponse): void {
  try {
    this[kSink].ended('client-close');
  } catch (error) {
    this[kSink].failed(error);
  }
}
