import { validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CloseReason } from '../protocol/close-reasons.js';
import { corkForTick, uncorkNow, type Hold } from './cork.js';
import type { Payload } from './payload.js';
import { kSink, type Head, type EncodedMessage, type Wire, type WireSink } from './wire.js';

type TaggedResponse = ServerResponse & { [kSink]: WireSink; flush?: () => void };

/** What opening a plain HTTP channel takes. */
export interface HttpWireOptions {
  req: IncomingMessage;
  res: ServerResponse;
  /** Status and headers for the first send; validated now, written then. */
  head: Head;
  sink: WireSink;
  /** How streamed chunks are held to leave together (`flushInterval`, see cork.ts). */
  hold?: Hold | undefined;
}

/**
 * http-kit's plain HTTP channel. The first send writes status, headers and body; with
 * close-after-send (the default) it also ends the response, which makes one send a long-poll
 * answer. `send(x, { close: false })` streams chunks instead, flushed one by one (also
 * through compression(), whose `res.flush` we call).
 */
export class HttpWire implements Wire {
  readonly name = 'http' as const;
  readonly #req: IncomingMessage;
  readonly #res: TaggedResponse;
  readonly #hold: Hold;
  // The socket a streamed chunk was held on: kept, because a finished response lets go of
  // it (res.socket is then null) and a keep-alive socket goes on to the next request.
  #heldSocket: Socket | null = null;
  #head: Head;

  constructor({ req, res, head, sink, hold = corkForTick }: HttpWireOptions) {
    // The head is written only at the first send; checking it now makes a send with a bad
    // header (CR/LF injection) throw before the channel opens, with nothing written.
    validateHead(head);
    const tagged = res as TaggedResponse;
    tagged[kSink] = sink;
    tagged.on('close', responseOnClose);
    this.#req = req;
    this.#res = tagged;
    this.#head = head;
    this.#hold = hold;
    // Claimed after the client left (the route awaited something): 'close' already fired.
    if (req.socket.destroyed) queueMicrotask(() => sink.ended('client-close'));
  }

  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  /** A later send's status and headers still apply while nothing has been written. */
  applyHead(head: Head): void {
    if (this.#res.headersSent || (head.status === undefined && head.headers === undefined)) return;
    validateHead(head);
    this.#head = head;
  }

  send(payload: Payload | undefined, _fields: unknown, closeAfter: boolean): void {
    const res = this.#res;
    if (res.writableEnded) return;
    const body = this.#hasNoBody() ? undefined : payload;
    if (!res.headersSent) res.writeHead(this.#head.status ?? 200, proxySafeHeaders(this.#head.headers, closeAfter ? body : false));
    if (closeAfter) {
      if (body === undefined) res.end();
      else res.end(body);
      // The end leaves with what is held, now: the next response on a keep-alive socket
      // must not wait for the rest of a latency budget.
      this.flush();
      return;
    }
    // Streamed chunks are held to leave together (Node's http corks for the tick itself; a
    // latency budget holds them longer). A pipelined response has no socket yet: Node
    // buffers its writes until the one before it is done.
    const socket = res.socket;
    if (socket !== null) {
      this.#heldSocket = socket;
      this.#hold(socket);
    }
    if (body !== undefined && body.length > 0) res.write(body);
    res.flush?.();
  }

  /** Writes out what this wire's hold keeps back; true if there was a cork to lift. */
  flush(): boolean {
    return this.#heldSocket !== null && uncorkNow(this.#heldSocket);
  }

  writeShared(message: EncodedMessage): void {
    // A broadcast to a long-poll channel is its answer (http-kit's default close-after-send).
    this.send(message.payload, message.fields, true);
  }

  heartbeat(): boolean {
    return true;
  }

  pauseReading(): void {
    // Nothing is read after the request.
  }

  end(reason: CloseReason): void {
    const res = this.#res;
    // A client that stopped reading would never take the end of the stream, and its socket
    // would hold the unread bytes and its file descriptor until the client left: let it go
    // after the same grace as the WebSocket and SSE wires.
    if (reason === 'slow-consumer') setTimeout(destroyUnfinished, slowConsumerGrace, res).unref();
    if (res.writableEnded) return;
    if (!res.headersSent) res.writeHead(this.#head.status ?? 200, proxySafeHeaders(this.#head.headers, undefined));
    res.end();
    this.flush(); // as a last send does
  }

  // HEAD, 204 and 304 responses have no body (RFC 9110 §6.4.1).
  #hasNoBody(): boolean {
    const status = this.#res.headersSent ? this.#res.statusCode : (this.#head.status ?? 200);
    return this.#req.method === 'HEAD' || status === 204 || status === 304;
  }
}

const slowConsumerGrace = 1000;

function destroyUnfinished(res: ServerResponse): void {
  // Finished means the client read everything in time; its keep-alive socket is then no
  // longer this response's (res.socket is null) and may already carry its next request.
  if (!res.writableFinished) res.socket?.destroy();
}

function responseOnClose(this: TaggedResponse): void {
  // 'close' before the response finished: the client left. After it: the channel ended it
  // (then this is a no-op), or something else answered the request (an error handler, a
  // direct res.end), and the channel must not stay open forever.
  try {
    this[kSink].ended(this.writableFinished ? 'server-close' : 'client-close');
  } catch (error) {
    this[kSink].failed(error);
  }
}

/** Streaming: nginx (X-Accel-Buffering) and compression() or CDNs (no-transform) must pass chunks on as written. */
const streamHeaders = { 'x-accel-buffering': 'no', 'cache-control': 'no-cache, no-transform' } as const;

/**
 * The user's headers, completed so that no proxy holds the response back: a whole answer
 * (`body`; undefined when it has none) says its length, which a proxy can pass on without waiting
 * for the end; a stream (`false`) says not to buffer or transform it. A header the user set
 * wins, whatever its case.
 */
function proxySafeHeaders(headers: Head['headers'], body: Payload | undefined | false): Record<string, string> {
  const given = new Set(Object.keys(headers ?? {}).map((name) => name.toLowerCase()));
  const added: Record<string, string | number> = {};
  if (body === false) {
    for (const [name, value] of Object.entries(streamHeaders)) if (!given.has(name)) added[name] = value;
  } else if (body !== undefined && !given.has('content-length') && !given.has('transfer-encoding')) {
    added['content-length'] = Buffer.byteLength(body);
  }
  return { ...(headers as Record<string, string>), ...added } as Record<string, string>;
}

function validateHead(head: Head): void {
  if (head.headers === undefined) return;
  for (const [name, value] of Object.entries(head.headers)) {
    validateHeaderName(name);
    for (const item of [value].flat()) validateHeaderValue(name, String(item));
  }
}
