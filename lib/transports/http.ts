import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CloseReason } from '../close-reasons.js';
import type { Head, Payload, SharedMessage, Wire, WireSink } from './wire.js';

const kSink = Symbol('express-channel.sink');
type TaggedResponse = ServerResponse & { [kSink]: WireSink; flush?: () => void };

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
  readonly #head: Head;

  constructor(req: IncomingMessage, res: ServerResponse, head: Head, sink: WireSink) {
    const tagged = res as TaggedResponse;
    tagged[kSink] = sink;
    tagged.on('close', responseOnClose);
    this.#req = req;
    this.#res = tagged;
    this.#head = head;
  }

  get bufferedBytes(): number {
    return this.#res.writableLength;
  }

  send(payload: Payload | undefined, _fields: unknown, closeAfter: boolean): void {
    const res = this.#res;
    if (res.writableEnded) return;
    if (!res.headersSent) res.writeHead(this.#head.status ?? 200, this.#head.headers as Record<string, string>);
    const body = this.#hasNoBody() ? undefined : payload;
    if (closeAfter) {
      if (body === undefined) res.end();
      else res.end(body);
      return;
    }
    if (body !== undefined && body.length > 0) res.write(body);
    res.flush?.();
  }

  writeShared(message: SharedMessage): void {
    // A broadcast to a long-poll channel is its answer (http-kit's default close-after-send).
    this.send(message.payload, message.fields, true);
  }

  heartbeat(): boolean {
    return true;
  }

  pauseReading(): void {
    // Nothing is read after the request.
  }

  end(_reason: CloseReason): void {
    const res = this.#res;
    if (res.writableEnded) return;
    if (!res.headersSent) res.writeHead(this.#head.status ?? 200, this.#head.headers as Record<string, string>);
    res.end();
  }

  // HEAD, 204 and 304 responses have no body (RFC 9110 §6.4.1).
  #hasNoBody(): boolean {
    const status = this.#res.statusCode;
    return this.#req.method === 'HEAD' || status === 204 || status === 304;
  }
}

function responseOnClose(this: TaggedResponse): void {
  // 'close' after the response finished is the normal end; before it, the client left.
  if (!this.writableFinished) this[kSink].ended('client-close');
}
