import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Channel } from './channel.js';
import type { ResolvedOptions } from '../options.js';

/** Counters behind `live.stats()`. */
export interface Counters {
  sent: number;
  dropped: number;
  received: number;
}

/** What a channel needs from the `live` instance that made it. */
export interface ChannelHost {
  readonly options: ResolvedOptions;
  readonly counters: Counters;
  readonly closing: boolean;
  webSocketServer(): WebSocketServer;
  channelOpened(channel: Channel): void;
  channelClosed(channel: Channel): void;
  reportError(error: unknown): void;
}

/** The raw socket of a WebSocket upgrade, handed to the middleware by `live.attach`. */
export interface UpgradeContext {
  readonly socket: Duplex;
  readonly head: Buffer;
  /** Frees the socket from the placeholder `ServerResponse`, just before the handshake. */
  release(): void;
}

/** The request a channel belongs to. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly upgrade: UpgradeContext | undefined;
}
