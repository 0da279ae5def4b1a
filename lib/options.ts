import type { IncomingMessage } from 'node:http';
import { invalidArgument } from './errors.js';
import type { Channel } from './channel/channel.js';
import type { BufferPolicy } from './channel/flow-control.js';
import type { Adapter } from './groups/adapter.js';
import { trustFunction, type TrustProxy } from './http/client-address.js';
import { assertKnownOptions } from './channel/option-names.js';

/** Options of {@link channels}. Every one is optional and has a safe default. */
export interface ChannelsOptions {
  /**
   * Milliseconds between heartbeats: a WebSocket ping (a peer that misses two closes with
   * `'client-away'`) and an SSE comment (keeps proxies from timing out idle streams). 0 turns
   * them off.
   * @defaultValue 25000
   */
  heartbeat?: number;
  /**
   * Largest client message in bytes. A bigger WebSocket frame closes the channel with 1009
   * (`'message-too-big'`); a bigger POST is answered 413.
   * @defaultValue 1048576 (1 MiB)
   */
  maxPayload?: number;
  /**
   * Bytes that may wait in one channel's outbound buffer (the socket's own) before
   * `bufferPolicy` applies.
   * @defaultValue 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * `'close'` closes a channel whose buffer is full with `'slow-consumer'`; `'drop'` skips
   * the message for that channel and counts it in `stats().dropped`.
   * @defaultValue 'close'
   */
  bufferPolicy?: BufferPolicy;
  /**
   * Client messages held for a handler that has not called `onReceive` yet. Past it the
   * server stops reading from that socket until a handler is registered: nothing is lost.
   * @defaultValue 1024
   */
  maxHeldMessages?: number;
  /**
   * `Origin`s allowed to open a WebSocket or POST to a session (others are answered 403).
   * By default a browser request is allowed only from the server's own host: the `Origin`'s
   * host and port must match the `Host` header (the scheme is not compared, so TLS may end at
   * a proxy; ports 80 and 443 count as no port). A list of exact origins
   * (`'https://app.example.com'`) or a predicate replaces that check; `'*'` allows every
   * origin (cross-site WebSocket hijacking becomes possible: see docs/security.md). Requests
   * without `Origin` (non-browser clients) are always allowed. Behind a proxy that rewrites
   * `Host`, set this explicitly.
   * @defaultValue undefined (same host only)
   */
  allowedOrigins?: '*' | readonly string[] | ((origin: string, req: IncomingMessage) => boolean);
  /**
   * Milliseconds a session waits for its client to come back before closing with
   * `'client-away'`.
   * @defaultValue 30000
   */
  sessionTimeout?: number;
  /**
   * Milliseconds a poll request is held open waiting for a message before it is answered
   * empty.
   * @defaultValue 25000
   */
  pollTimeout?: number;
  /**
   * Bound of the per-session replay buffer: messages kept until the client acknowledges
   * them. Past either bound the oldest are let go, and a client resuming from before them
   * is told of the gap.
   * @defaultValue { messages: 1000, bytes: 1048576 }
   */
  sessionBuffer?: {
    /** Messages a session keeps for its client at most. */
    messages?: number;
    /** Payload bytes a session keeps for its client at most. */
    bytes?: number;
  };
  /**
   * Called on a resume, after the app's middleware ran: return false to refuse it (403).
   * @defaultValue undefined (every resume that presents a valid session id is accepted)
   */
  authorizeResume?: (req: IncomingMessage, channel: Channel) => boolean;
  /**
   * Most channels this instance holds open at once; a new one past it is answered 503
   * `too-many-channels` with `Retry-After` (before the 101 of a WebSocket). A resume is not
   * a new channel.
   * @defaultValue Infinity (no limit: set one for a public server)
   */
  maxChannels?: number;
  /**
   * Most channels open at once from one client address; past it, 429
   * `too-many-channels-from-address` with `Retry-After`. The address is the socket's peer,
   * or the one `trustProxy` lets `X-Forwarded-For` tell.
   * @defaultValue Infinity (no limit: set one for a public server)
   */
  maxChannelsPerIp?: number;
  /**
   * Which proxies in front to believe about the client's address (`X-Forwarded-For`), as
   * Express's `trust proxy`: `false`, `true`, a number of hops, or `(address, hop) => boolean`.
   * @defaultValue false (the socket's peer is the client)
   */
  trustProxy?: TrustProxy;
  /**
   * WebSocket handshakes per second this instance starts at most, spread as a tenth of it in
   * any 100 ms; the rest wait their turn (and are answered 503 `busy` with `Retry-After` after
   * 5 s). It spreads a reconnect storm: every client of a process cut at once. Below the rate
   * it costs nothing; `Infinity` turns it off (a benchmark of connects, say).
   * @defaultValue 1500
   */
  handshakeRate?: number;
  /**
   * The `retry:` hint, in milliseconds, sent to SSE clients on `live.close()`.
   * @defaultValue 1000
   */
  shutdownRetry?: number;
  /**
   * A latency budget, in milliseconds, from 0 to 1000. With 0, what is written to a socket in
   * one tick leaves at the end of that tick, as one `writev`. With more, a socket's writes are
   * held for up to that long after the first of them and leave together, so that messages
   * sent in separate ticks (a ticker, a chat that is not bursting) coalesce too: far fewer
   * syscalls per delivery, for up to this much added latency. WebSocket, SSE and streamed
   * HTTP responses are held, and a held poll waits that long for more messages to answer
   * with; a long-poll answer (one send) is not held. A close, and the check of
   * `maxBufferedBytes` (which counts the held bytes), let out what is held first. See
   * docs/performance.md, "Choosing a latency budget".
   * @defaultValue 0
   */
  flushInterval?: number;
  /**
   * Carries broadcasts between processes. The embedded default is in-memory.
   * @defaultValue undefined (one process)
   */
  adapter?: Adapter;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  heartbeat: number;
  maxPayload: number;
  maxBufferedBytes: number;
  bufferPolicy: BufferPolicy;
  maxHeldMessages: number;
  isOriginAllowed: (origin: string | undefined, req: IncomingMessage) => boolean;
  sessionTimeout: number;
  pollTimeout: number;
  sessionMessages: number;
  sessionBytes: number;
  authorizeResume: ((req: IncomingMessage, channel: Channel) => boolean) | undefined;
  shutdownRetry: number;
  adapter: Adapter | undefined;
  maxChannels: number;
  maxChannelsPerIp: number;
  handshakeRate: number;
  flushInterval: number;
  /** `trustProxy` as a predicate: is the hop at `address` a proxy to believe? */
  trusts: (address: string, hop: number) => boolean;
}

const MiB = 1024 * 1024;

// Every option's name, checked against ChannelsOptions by the type: one added there must be
// added here, or a user passing it would be told it does not exist.
const optionNames = Object.keys({
  heartbeat: true, maxPayload: true, maxBufferedBytes: true, bufferPolicy: true, maxHeldMessages: true, allowedOrigins: true,
  sessionTimeout: true, pollTimeout: true, sessionBuffer: true, authorizeResume: true, maxChannels: true, maxChannelsPerIp: true,
  trustProxy: true, shutdownRetry: true, adapter: true, handshakeRate: true, flushInterval: true,
} satisfies Record<keyof ChannelsOptions, true>);
const sessionBufferNames = ['messages', 'bytes'];

/** Fills in defaults and rejects nonsense at once, with the option's name in the message. */
export function resolveOptions(options: ChannelsOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `channels() takes an options object, got ${options === null ? 'null' : typeof options}`);
  }
  assertKnownOptions('channels()', options, optionNames);
  if (options.sessionBuffer !== undefined) assertKnownOptions('sessionBuffer', options.sessionBuffer, sessionBufferNames);
  const bufferPolicy = options.bufferPolicy ?? 'close';
  if (bufferPolicy !== 'close' && bufferPolicy !== 'drop') {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `bufferPolicy must be 'close' or 'drop', got ${JSON.stringify(bufferPolicy)}`);
  }
  return {
    heartbeat: nonNegative('heartbeat', options.heartbeat, 25_000),
    maxPayload: positive('maxPayload', options.maxPayload, MiB),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes, MiB),
    bufferPolicy,
    maxHeldMessages: positive('maxHeldMessages', options.maxHeldMessages, 1024),
    isOriginAllowed: originCheck(options.allowedOrigins),
    sessionTimeout: positive('sessionTimeout', options.sessionTimeout, 30_000),
    pollTimeout: positive('pollTimeout', options.pollTimeout, 25_000),
    sessionMessages: positive('sessionBuffer.messages', options.sessionBuffer?.messages, 1000),
    sessionBytes: positive('sessionBuffer.bytes', options.sessionBuffer?.bytes, MiB),
    authorizeResume: options.authorizeResume,
    shutdownRetry: nonNegative('shutdownRetry', options.shutdownRetry, 1000),
    adapter: options.adapter,
    maxChannels: limit('maxChannels', options.maxChannels),
    maxChannelsPerIp: limit('maxChannelsPerIp', options.maxChannelsPerIp),
    handshakeRate: options.handshakeRate === Infinity ? Infinity : positive('handshakeRate', options.handshakeRate, 1500),
    flushInterval: latencyBudget(options.flushInterval),
    trusts: trustFunction(checkedTrustProxy(options.trustProxy)),
  };
}

// Past a second a hold is no longer a latency budget but a stall: heartbeats and closes
// would wait behind it.
const maxFlushInterval = 1000;

function latencyBudget(value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > maxFlushInterval) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `flushInterval must be a number of milliseconds from 0 to ${maxFlushInterval}, got ${String(value)}`);
  }
  return value;
}

// A count limit: a whole number >= 1, or no limit at all.
function limit(name: string, value: number | undefined): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (!Number.isInteger(value) || value < 1) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `${name} must be a whole number >= 1 (or Infinity), got ${String(value)}`);
  }
  return value;
}

function checkedTrustProxy(value: TrustProxy | undefined): TrustProxy {
  if (value === undefined) return false;
  if (typeof value === 'boolean' || typeof value === 'function' || (Number.isInteger(value) && value >= 0)) return value;
  throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `trustProxy must be a boolean, a hop count >= 0 or a function, got ${JSON.stringify(value)}`);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

function originCheck(allowed: ChannelsOptions['allowedOrigins']): ResolvedOptions['isOriginAllowed'] {
  if (allowed === '*') return () => true;
  if (allowed === undefined) return (origin, req) => origin === undefined || isSameHost(origin, req.headers.host);
  if (typeof allowed === 'function') return (origin, req) => origin === undefined || allowed(origin, req);
  if (!Array.isArray(allowed)) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `allowedOrigins must be '*', a list of origins or a function, got ${JSON.stringify(allowed)}`);
  }
  const set = new Set(allowed.map((o) => o.toLowerCase()));
  return (origin) => origin === undefined || set.has(origin.toLowerCase());
}

/**
 * Whether `origin` names the host the request was sent to (its `Host` header): host and
 * port compared, case-insensitively, scheme ignored (TLS may end at a proxy in front), and
 * the default ports 80 and 443 taken as no port on both sides. An unparsable or opaque
 * Origin (`null`, from a sandboxed frame or a file) matches nothing, nor does a request
 * without `Host`.
 */
export function isSameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined || host === '' || /[/?#@\\\s]/.test(host)) return false;
  const from = hostOf(origin);
  const to = hostOf(`http://${host}`);
  return from !== undefined && from === to;
}

function hostOf(href: string): string | undefined {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  if (url.hostname === '' || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  // URL drops a port that is the default of its own scheme; the other default goes too.
  const port = url.port === '80' || url.port === '443' ? '' : url.port;
  return port === '' ? url.hostname : `${url.hostname}:${port}`;
}
