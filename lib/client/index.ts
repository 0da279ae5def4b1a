/**
 * The client for browsers and Node: `import { connect } from 'express-channel/client'`.
 * Guide: docs/client.md.
 * @module express-channel/client
 */
// express-channel/client: the browser entry (and the base of the Node one). Named exports
// only; no Node built-ins anywhere below this file, so it bundles for browsers as is.
import { Connection } from './connection.js';
import type { ConnectOptions } from './options.js';

/**
 * Opens a session with an express-channel route: tries WebSocket, then SSE, then polling
 * (or `options.transports`), and keeps the session alive across lost connections.
 * @param url - the route that claims `req.channel` (relative URLs resolve against the page).
 * @example
 * ```ts
 * const conn = connect('/live');
 * conn.onmessage = (event) => console.log(event.data);
 * conn.send('hello');
 * ```
 */
export function connect(url: string | URL, options?: ConnectOptions): Connection {
  return new Connection(url, options);
}

export { Connection } from './connection.js';
export type { ConnectionHandler, ConnectionListener, ConnectionListenerObject, ReadyState } from './connection.js';
export { ClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export { OpenEvent, ChannelMessageEvent, ChannelCloseEvent, ChannelErrorEvent, ReconnectingEvent, TransportEvent, GapEvent } from './events.js';
export type { ConnectionEventMap, TransportName } from './events.js';
export type { ConnectOptions, HeadersOption, WebSocketConstructor, WebSocketLike, EventSourceConstructor, EventSourceLike } from './options.js';
export type { ReconnectOptions } from './backoff.js';
export type { Data } from './codec.js';
