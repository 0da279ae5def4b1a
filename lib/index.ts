/**
 * The middleware (`channels()`), the channel (`req.channel`), groups and their types: the
 * main entry, `import { channels } from 'express-channel'`. The guide starts at the README
 * and docs/channel.md.
 * @module express-channel
 */
// The public API. Named exports only: what is not listed here is internal.
import type { Channel } from './channel/channel.js';

export { channels } from './channels.js';
export type { Live, NextFunction } from './channels.js';
export { Channel } from './channel/channel.js';
export type { SendOptions } from './channel/channel.js';
export type { CloseHandler, Message, MessageHandler } from './channel/handlers.js';
export { ChannelGroup } from './groups/group.js';
export type { BroadcastOptions } from './groups/group.js';
export { ChannelError } from './errors.js';
export type { ChannelErrorCode } from './errors.js';
export type { CloseReason } from './protocol/close-reasons.js';
export type { TransportName } from './transports/wire.js';
export type { ChannelsOptions } from './options.js';
export type { TrustProxy } from './http/client-address.js';
export type { BufferPolicy } from './channel/flow-control.js';
export type { ChannelStats, ErrorListener } from './hub-types.js';
export type { Refusals } from './http/admission.js';
export type { ResponseMap, SendData } from './channel/send-data.js';
export type { Adapter, AdapterMessage, AdapterStatus } from './groups/adapter.js';
export type { Payload } from './transports/payload.js';
export type { SendFields } from './transports/wire.js';

// `req.channel`, on Node's IncomingMessage and so on Express's Request and Connect's too.
// It is defined only on requests that passed through the middleware, hence optional.
declare module 'node:http' {
  interface IncomingMessage {
    /** The request's channel (http-kit's): claimed on first use. Set by the express-channel middleware. */
    channel?: Channel;
  }
}
