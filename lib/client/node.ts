// express-channel/client for Node: the same client, with the `ws` package as its WebSocket
// (Node 20 has no global one). The headers option reaches the WebSocket handshake too here.
import WebSocket from 'ws';
import { Connection } from './connection.js';
import { invalidArgument, setDescribeCause } from './errors.js';
import { describeNodeCause } from './node-errors.js';
import type { ConnectOptions, WebSocketConstructor } from './options.js';

setDescribeCause(describeNodeCause);

/**
 * Opens a session with an express-channel route from Node; see the browser entry's
 * `connect` for the behaviour. `url` must be absolute.
 * @example
 * ```ts
 * import { connect } from 'express-channel/client';
 * const conn = connect('http://localhost:3000/live');
 * conn.addEventListener('message', (event) => console.log(event.data));
 * ```
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Connection {
  // Node has no page to resolve a relative URL against: say so, instead of a bare "Invalid URL".
  if (!URL.canParse(url)) {
    throw invalidArgument('invalid-url', `connect() in Node needs an absolute URL such as http://localhost:3000/live, got ${JSON.stringify(String(url))}`);
  }
  const headers = options.headers;
  const withHeaders = class extends WebSocket {
    constructor(address: string, protocols?: string[]) {
      super(address, protocols, { headers: typeof headers === 'function' ? headers() : (headers ?? {}) });
    }
  };
  // ws's event types are its own, so its class is not assignable to the DOM-shaped
  // constructor type; it implements every member WebSocketLike names.
  return new Connection(url, { ...options, WebSocket: options.WebSocket ?? (withHeaders as unknown as WebSocketConstructor) });
}

// Everything else is the browser entry's: re-exported from it by name (no `export *`, so each
// entry says what it exports); a name added to index.ts is added here too.
export {
  Connection, ClientError, OpenEvent, ChannelMessageEvent, ChannelCloseEvent, ChannelErrorEvent, ReconnectingEvent, TransportEvent, GapEvent,
  type ReadyState, type ConnectionHandler, type ConnectionListener, type ConnectionListenerObject, type ClientErrorCode, type ConnectionEventMap, type TransportName, type ConnectOptions, type HeadersOption,
  type WebSocketConstructor, type WebSocketLike, type EventSourceConstructor, type EventSourceLike, type ReconnectOptions, type Data,
} from './index.js';
