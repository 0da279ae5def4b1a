import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CloseReason } from '../close-reasons.js';
import { corkForTick } from '../cork.js';
import { formatSseEvent, formatSseRetry, sseHeartbeat } from '../sse-format.js';
import type { Head, Payload, SendFields, SharedMessage, Wire, WireSink } from './wire.js';

const kSink = Symbol('express-channel.sink');
type TaggedResponse = ServerResponse & { [kSink]: WireSink };

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

  constructor(req: IncomingMessage, res: ServerResponse, head: Head, sink: WireSink, shutdownRetry: number) {
    const tagged = res as TaggedResponse;
    tagged[kSink] = sink;
    this.#shutdownRetry = shutdownRetry;
    // The body is delimited by the end of the connection, so no chunked framing is needed
    // and the socket can be written directly.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.writeHead(head.status ?? 200, { ...(head.headers as OutgoingHttpHeaders | undefined), ...sseHeaders });
    res.flushHeaders();
    this.#res = tagged;
    this.#socket = res.socket;
    tagged.on('close', responseOnClose);
    if (this.#socket === null || req.method === 'HEAD') queueMicrotask(() => sink.ended('client-close'));
  }

  get bufferedBytes(): number {
    return this.#socket?.writableLength ?? 0;
  }

  send(payload: Payload | undefined, fields: SendFields): void {
    if (payload === undefined) return;
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    this.#write(formatSseEvent(text, fields));
  }

  writeShared(message: SharedMessage): void {
    this.#write(message.forSse());
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
  }

  #write(chunk: string | Buffer): void {
    const socket = this.#socket;
    if (socket === null || socket.destroyed || !socket.writable) return;
    corkForTick(socket);
    socket.write(chunk);
  }
}

/** Builds a broadcast's SSE event once, for every SSE member. */
export function eventForSse(payload: Payload, fields: SendFields): Buffer {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  return Buffer.from(formatSseEvent(text, fields));
}

function responseOnClose(this: TaggedResponse): void {
  this[kSink].ended('client-close');
}
