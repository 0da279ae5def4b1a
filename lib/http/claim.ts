import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocketServer } from 'ws';
import type { RefusalCause } from '../channel/counters.js';
import type { WireRequest } from '../channel/host.js';
import { debug, debugEnabled } from '../debug.js';
import { ChannelError } from '../errors.js';
import type { CloseReason } from '../protocol/close-reasons.js';
import { countsEvents } from '../protocol/params.js';
import { holdFor } from '../transports/cork.js';
import { HttpWire } from '../transports/http.js';
import { PollWire } from '../transports/poll.js';
import { SseWire } from '../transports/sse.js';
import { acceptWebSocket } from '../transports/websocket.js';
import type { Wire } from '../transports/wire.js';
import { retryAfterSeconds } from './retry-after.js';

/** What opening a transport needs of the `live` instance (the hub). */
export interface ClaimHost {
  readonly closing: boolean;
  readonly options: {
    readonly shutdownRetry: number;
    readonly pollTimeout: number;
    /** The latency budget (ms) every wire's writes are held for (0: to the end of the tick). */
    readonly flushInterval: number;
    isOriginAllowed(origin: string | undefined, req: IncomingMessage): boolean;
  };
  webSocketServer(): WebSocketServer;
  /** Counts a refused connection, for metrics (its client is answered here). */
  refused?(cause: RefusalCause): void;
}

/**
 * Claims a request for its channel: completes the WebSocket handshake, or writes the SSE
 * headers; a plain HTTP wire writes nothing yet. When the connection is refused, the client
 * has already been answered and the channel's close reason is returned instead:
 * `'shutdown'` (503), `'policy-violation'` (a forbidden Origin, 403) or `'protocol-error'`
 * (an invalid WebSocket handshake, 400 from ws).
 * @throws ChannelError when the request cannot carry its channel (answered already, or a
 * WebSocket upgrade on a server without `live.attach`).
 */
export function createWire(request: WireRequest, host: ClaimHost): Wire | CloseReason {
  const { transport, context, sink, head, session } = request;
  const { req, res } = context;
  if (transport !== 'websocket' && res.headersSent) {
    throw new ChannelError('ERR_CHANNEL_RESPONSE_SENT', `cannot claim the ${transport} channel of ${req.method} ${req.url}: a response was already sent on it`);
  }
  if (host.closing) {
    host.refused?.('shutting-down');
    return refuseWhileClosing(res, host.options.shutdownRetry);
  }
  switch (transport) {
    case 'websocket':
      return openWebSocket(request, host);
    case 'sse':
      return new SseWire({
        req,
        res,
        head,
        sink,
        shutdownRetry: host.options.shutdownRetry,
        session: session && { eventIdPrefix: session.eventIdPrefix, idLines: !countsEvents(req.url) },
        hold: holdFor(host.options.flushInterval),
      });
    case 'poll':
      if (session === undefined) throw new ChannelError('ERR_CHANNEL_HANDSHAKE', 'the poll transport needs a session');
      return new PollWire({
        res,
        sink,
        source: session.source,
        ack: session.ack,
        pollTimeout: host.options.pollTimeout,
        shutdownRetry: host.options.shutdownRetry,
        flushInterval: host.options.flushInterval,
      });
    case 'http':
      return new HttpWire({ req, res, head, sink, hold: holdFor(host.options.flushInterval) });
  }
}

// Shutting down: nothing new is accepted; the client is told to come back later.
function refuseWhileClosing(res: ServerResponse, shutdownRetry: number): CloseReason {
  if (debugEnabled) debug('refused a channel: 503, shutting down');
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': retryAfterSeconds(shutdownRetry), connection: 'close' }).end('Server is shutting down');
  return 'shutdown';
}

function openWebSocket({ context, sink, session }: WireRequest, host: ClaimHost): Wire | CloseReason {
  const { req, res, upgrade } = context;
  if (upgrade === undefined) {
    throw new ChannelError('ERR_CHANNEL_NOT_ATTACHED', 'a WebSocket upgrade reached the middleware through a plain request; call live.attach(server) after app.listen()');
  }
  if (!host.options.isOriginAllowed(req.headers.origin, req)) {
    host.refused?.('origin-not-allowed');
    if (debugEnabled) debug('refused a websocket channel: 403, Origin %j is not allowed (allowedOrigins)', req.headers.origin);
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Origin not allowed');
    return 'policy-violation';
  }
  upgrade.release();
  const server = host.webSocketServer();
  const wire = acceptWebSocket({ server, req, socket: upgrade.socket, head: upgrade.head, sink, session: session !== undefined, hold: holdFor(host.options.flushInterval) });
  if (wire === undefined) {
    host.refused?.('bad-handshake');
    if (debugEnabled) debug('refused a websocket channel: 400, not a valid WebSocket handshake');
    return 'protocol-error';
  }
  wire.shutdownRetry = host.options.shutdownRetry;
  return wire;
}
