// The request and response a forwarded session request is answered through on its owner
// (lib/http/forwarding.ts): shaped as far as session handling reads them like Node's, so the
// owner answers it with the very code it answers its own requests with.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ForwardedAnswer, ForwardedRequest } from '../sessions/directory.js';

/** Where a forwarded POST's body is: read already, by the process that received it. */
export const kForwardedBody = Symbol('express-channel.forwardedBody');

/** A forwarded request, as session handling reads a request. */
export function forwardedRequest(request: ForwardedRequest): IncomingMessage {
  const req = Object.assign(new EventEmitter(), {
    method: request.method,
    url: request.url,
    headers: request.headers,
    readableEnded: true,
    // The client's address as the receiving process saw it: what client-address.ts reads.
    socket: { remoteAddress: request.address },
    [kForwardedBody]: request.body ?? '',
  });
  return req as unknown as IncomingMessage;
}

/**
 * A response that, once ended, hands its status, headers and body to `deliver` (which sends
 * them back to the process that holds the client's connection). 'close' fires after the end,
 * or when the client went away first, as on a real response.
 */
export class ForwardedResponse extends EventEmitter {
  headersSent = false;
  writableEnded = false;
  statusCode = 200;
  readonly #headers: Record<string, string> = {};
  readonly #deliver: (answer: ForwardedAnswer) => void;

  constructor(deliver: (answer: ForwardedAnswer) => void, cancelled: AbortSignal) {
    super();
    this.#deliver = deliver;
    cancelled.addEventListener('abort', () => this.#closed(), { once: true });
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.#headers[name.toLowerCase()] = String(value);
    return this;
  }

  writeHead(status: number, headers: OutgoingHttpHeaders = {}): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value as string);
    this.headersSent = true;
    return this;
  }

  end(body?: string | Buffer): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    this.headersSent = true;
    this.#deliver({ status: this.statusCode, headers: this.#headers, body: body === undefined ? '' : body.toString() });
    this.#closed();
    return this;
  }

  #closed(): void {
    if (this.listenerCount('close') > 0 || !this.writableEnded) this.emit('close');
  }

  /** This response, typed as what session handling expects. */
  asServerResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}
