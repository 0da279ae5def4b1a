/**
 * The client, with one connection for all the tabs of an origin:
 * `import { connect } from 'express-channel/client/shared'`. Guide: docs/client.md,
 * "One connection for all tabs".
 * @module express-channel/client/shared
 */
// express-channel/client/shared: a browser entry of its own, so that the core bundle pays
// nothing for tab sharing. Named exports only.
import type { ConnectOptions } from '../options.js';
import { SharedConnection } from './shared-connection.js';

/**
 * Opens a connection that the tabs of this origin share: one tab holds the real connection
 * (the others follow it over a BroadcastChannel, and one of them takes over when it goes);
 * every tab gets every message once, in order, from the moment it connected. Where Web
 * Locks or BroadcastChannel are missing, each tab has a connection of its own.
 * @param url - the route that claims `req.channel` (relative URLs resolve against the page).
 * @param options - as the core client's; the tabs that share a URL share the first leader's.
 * @example
 * ```ts
 * import { connect } from 'express-channel/client/shared';
 * const conn = connect('/live', { transports: ['sse', 'poll'] });
 * conn.onmessage = (event) => console.log(event.data);
 * conn.send(JSON.stringify({ tab: conn.tabId, text: 'hello' }));
 * ```
 */
export function connect(url: string | URL, options?: ConnectOptions): SharedConnection {
  return new SharedConnection(url, options);
}

export { SharedConnection } from './shared-connection.js';
export type { SharedConnectionHandler, SharedConnectionListener } from './shared-connection.js';
export { ClientError } from '../errors.js';
export type { ClientErrorCode } from '../errors.js';
export { OpenEvent, ChannelMessageEvent, ChannelCloseEvent, ChannelErrorEvent, ReconnectingEvent, TransportEvent, GapEvent } from '../events.js';
export type { ConnectionEventMap, TransportName } from '../events.js';
export type { ConnectionListenerObject, ReadyState } from '../connection.js';
export type { ConnectOptions, HeadersOption, WebSocketConstructor, WebSocketLike, EventSourceConstructor, EventSourceLike } from '../options.js';
export type { ReconnectOptions } from '../backoff.js';
export type { Data } from '../codec.js';
