import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SessionSettings } from '../sessions/session.js';
import type { Head, SessionWiring, TransportName, WireSink } from '../transports/wire.js';
import type { BufferPolicy } from './flow-control.js';

/** The options a channel reads (a subset of `channels()`'s, resolved). */
export interface ChannelSettings extends SessionSettings {
  readonly maxHeldMessages: number;
  readonly maxBufferedBytes: number;
  readonly bufferPolicy: BufferPolicy;
}

/** What it takes to open a transport on a request (http/claim.ts does it). */
export interface WireRequest {
  transport: TransportName;
  context: RequestContext;
  sink: WireSink;
  head: Head;
  session?: SessionWiring | undefined;
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
