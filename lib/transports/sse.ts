import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CloseReason } from '../close-reasons.js';
import { corkForTick } from '../cork.js';
import { formatSseEvent, formatSseRetry, sseHeartbeat } from '../sse-format.js';
import { sseControlEvent, sseIdLine, sseSessionEvent, type ServerControl } from '../session-codec.js';
import type { Head, Payload, SendFields, SharedMessage, Wire, WireSink } from './wire.js';

const kSink = Symbol('express-channel.sink');
type TaggedResponse = ServerResponse & { [kSink]: WireSink };
const sessionRetry = 1000;
const slowConsumerGrace = 1000;
const detachedSink: WireSink = { received() {}, ended() {}, control() {}, released() {} };

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
  readonly #sessionId: string | undefined;
  #headOnly = false;

  /** `sessionId` makes this a session stream: events carry `id: SESSION.SEQ`. */
  constructor(req: IncomingMessage, res: ServerResponse, head: Head, sink: WireSink, shutdownRetry: number, sessionId?: string) {
    const tagged = res as TaggedResponse;
    tagged[kSink] = sink;
    this.#shutdownRetry = shutdownRetry;
    this.#sessionId = sessionId;
    // The body is delimited by the end of the connection, so no chunked framing is needed
    // and the socket can be written directly.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.writeHead(head.status ?? 200, { ...(head.headers as OutgoingHttpHeaders | undefined), ...sseHeaders });
    res.flushHeaders();
    this.#res = tagged;
    this.#socket = res.socket;
    tagged.on('close', responseOnClose);
    // A plain EventSource waits 3 s (its default) before reconnecting; a session resumes
    // without loss, so ask for a quicker return.
    this.#headOnly = req.method === 'HEAD';
    if (sessionId !== undefined) this.#write(formatSseRetry(sessionRetry));
    // A HEAD response is complete once its headers are out (RFC 9110 §9.3.2): end it, and
    // the 'close' that follows tells the channel.
    if (this.#headOnly) res.end();
    if (this.#socket === null) queueMicrotask(() => sink.ended('client-close'));
  }

  get bufferedBytes(): number {
    return this.#socket?.writableLength ?? 0;
  }

  send(payload: Payload | undefined, fields: SendFields, _closeAfter?: boolean, seq?: number): void {
    if (payload === undefined) return;
    if (this.#sessionId !== undefined && seq !== undefined) {
      this.#write(sseIdLine(this.#sessionId, seq) + sseSessionEvent(payload, fields));
      return;
    }
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    this.#write(formatSseEvent(text, fields));
  }

  writeShared(message: SharedMessage, seq?: number): void {
    if (this.#sessionId !== undefined && seq !== undefined) {
      // The per-channel id line and the shared event bytes leave in the same corked write.
      // Both chunks as Buffers: a string beside a Buffer sends Node's writev down a slow path.
      this.#write(Buffer.from(sseIdLine(this.#sessionId, seq), 'latin1'));
      this.#write(message.forSessionSse());
      return;
    }
    this.#write(message.forSse());
  }

  sendControl(control: ServerControl): void {
    this.#write(sseControlEvent(control));
  }

  detach(): void {
    this.#res[kSink] = detachedSink;
    // Superseded or too slow: the client will not read an orderly end, so free the socket.
    this.#socket?.destroy();
  }

  heartbeat(): boolean {
    this.#write(sseHeartbeat);
    return true;
  }

  pauseReading(): void {
    // An event stream carries nothing from the client.
  }

  end(reason: CloseReason): void {
    if (reason === 'shutdown') this.#write(formatSseRetry(this.#shutdownRetry));
    this.#res.end();
    // A client that stopped reading would never read the end of the stream, and its socket
    // would hold the buffered bytes forever: drop it after a grace period.
    if (reason === 'slow-consumer' && this.#socket !== null) setTimeout(destroySocket, slowConsumerGrace, this.#socket).unref();
  }

  #write(chunk: string | Buffer): void {
    const socket = this.#socket;
    if (this.#headOnly || socket === null || socket.destroyed || !socket.writable) return;
    corkForTick(socket);
    socket.write(chunk);
  }
}

/** Builds a broadcast's SSE event once, for every SSE member. */
export function eventForSse(payload: Payload, fields: SendFields): Buffer {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  return Buffer.from(formatSseEvent(text, fields));
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function responseOnClose(this: TaggedResponse): void {
  this[kSink].ended('client-close');
}
