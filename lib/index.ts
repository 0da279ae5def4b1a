// The public API. Named exports only: what is not listed here is internal.
import type { Channel } from './channel.js';

export { channels } from './middleware.js';
export type { Live, NextFunction } from './middleware.js';
export { Channel } from './channel.js';
export type { SendOptions } from './channel.js';
export type { CloseHandler, Message, MessageHandler } from './handlers.js';
export { ChannelGroup } from './group.js';
export type { BroadcastOptions } from './group.js';
export { ChannelError } from './errors.js';
export type { ChannelErrorCode } from './errors.js';
export type { CloseReason } from './close-reasons.js';
export type { TransportName } from './negotiate.js';
export type { ChannelsOptions, BufferPolicy } from './options.js';
export type { ChannelStats, ErrorListener } from './hub.js';
export type { ResponseMap, SendData } from './message.js';
export type { Adapter, AdapterMessage } from './adapter.js';

// `req.channel`, on Node's IncomingMessage and so on Express's Request and Connect's too.
// It is defined only on requests that passed through the middleware, hence optional.
declare module 'node:http' {
  interface IncomingMessage {
    /** The request's channel (http-kit's): claimed on first use. Set by the express-channel middleware. */
    channel?: Channel;
  }
}
