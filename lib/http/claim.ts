import type { CloseReason } from '../protocol/close-reasons.js';
import { ChannelError } from '../errors.js';
import type { ChannelHost, RequestContext } from '../channel/host.js';
import { countsEvents } from '../protocol/params.js';
import { HttpWire } from '../transports/http.js';
import { PollWire, type PollSource } from '../transports/poll.js';
import { SseWire } from '../transports/sse.js';
import { acceptWebSocket } from '../transports/websocket.js';
import type { Head, TransportName, Wire, WireSink } from '../transports/wire.js';

/** What a session wire needs besides the request: the session id and where polls read. */
export interface SessionWiring {
  id: string;
  ack: number;
  source: PollSource;
}

/**
 * Builds the wire for `transport` on the request in `context`: completes the WebSocket
 * handshake, or writes the SSE headers; a plain HTTP wire writes nothing yet. When the
 * connection is refused, the client has already been answered and the channel's close reason
 * is returned instead: `'shutdown'` (503), `'policy-violation'` (a forbidden Origin, 403) or
 * `'protocol-error'` (an invalid WebSocket handshake, 400 from ws).
 */
export function createWire(
  transport: TransportName,
  context: RequestContext,
  host: ChannelHost,
  sink: WireSink,
  head: Head,
  session?: SessionWiring,
): Wire | CloseReason {
  const { req, res, upgrade } = context;
  if (transport !== 'websocket' && res.headersSent) {
    throw new ChannelError('ERR_CHANNEL_RESPONSE_SENT', `cannot claim the ${transport} channel of ${req.method} ${req.url}: a response was already sent on it`);
  }
  if (host.closing) {
    // Shutting down: nothing new is accepted; the client is told to come back later.
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1', connection: 'close' }).end('Server is shutting down');
    return 'shutdown';
  }
  switch (transport) {
    case 'websocket': {
      if (upgrade === undefined) {
        throw new ChannelError('ERR_CHANNEL_NOT_ATTACHED', 'a WebSocket upgrade reached the middleware through a plain request; call live.attach(server) after app.listen()');
      }
      if (!host.options.isOriginAllowed(req.headers.origin, req)) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Origin not allowed');
        return 'policy-violation';
      }
      upgrade.release();
      return acceptWebSocket(host.webSocketServer(), req, upgrade.socket, upgrade.head, sink, session !== undefined) ?? 'protocol-error';
    }
    case 'sse':
      return new SseWire(req, res, head, sink, host.options.shutdownRetry, session && { id: session.id, idLines: !countsEvents(req.url) });
    case 'poll':
      if (session === undefined) throw new ChannelError('ERR_CHANNEL_HANDSHAKE', 'the poll transport needs a session');
      return new PollWire(res, sink, session.source, session.ack, host.options.pollTimeout);
    case 'http':
      return new HttpWire(req, res, head, sink);
  }
}
