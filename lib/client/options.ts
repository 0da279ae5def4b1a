import type { ReconnectOptions } from './backoff.js';
import { invalidArgument } from './errors.js';
import type { TransportName } from './events.js';

/** The part of a WebSocket the client uses: the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  /** Set to `'arraybuffer'` by the client. */
  binaryType: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Sends one frame. */
  send(data: string | Uint8Array): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Called once the handshake completed. */
  onopen: ((event: unknown) => void) | null;
  /** Called with each frame received. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Called once the socket closed, with the close code and reason. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Called when the socket failed. */
  onerror: ((event: unknown) => void) | null;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or `ws`'s in Node). */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** The part of an EventSource the client uses. */
export interface EventSourceLike {
  /** Listens for the events of one `event:` type (`'message'`, `'ec-hello'`...). */
  addEventListener(type: string, listener: (event: { data: string; lastEventId: string }) => void): void;
  /** Called when the stream failed or ended. */
  onerror: ((event: unknown) => void) | null;
  /** Closes the stream; it does not reconnect. */
  close(): void;
}

/** An EventSource constructor. */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** Headers for SSE and polling requests, or a function called before each request. */
export type HeadersOption = Record<string, string> | (() => Record<string, string>);

/** Options of {@link connect}. Every one is optional. */
export interface ConnectOptions {
  /**
   * Transports to try, in order. Give one to force it: `['sse']`.
   * @defaultValue ['websocket', 'sse', 'poll']
   */
  transports?: readonly TransportName[];
  /**
   * Milliseconds a transport may take to open (until the server's hello) before the next
   * one is tried.
   * @defaultValue 5000
   */
  openTimeout?: number;
  /** Backoff between reconnect rounds: exponential with full jitter. */
  reconnect?: ReconnectOptions;
  /**
   * Messages that may wait while the connection is not open (counting those sent but not
   * yet acknowledged by the server). Past it `send` throws a `ClientError` `'queue-full'`.
   * @defaultValue 1000
   */
  maxQueued?: number;
  /** Headers sent with SSE and polling requests (browsers cannot set WebSocket headers). */
  headers?: HeadersOption;
  /**
   * Credentials mode of the SSE and polling fetches.
   * @defaultValue 'same-origin'
   */
  credentials?: RequestCredentials;
  /**
   * Reads SSE with the runtime's `EventSource` instead of `fetch` + eventsource-parser: no
   * custom headers, and named messages arrive only for the names given to addEventListener
   * (an EventSource hands a named event only to a listener of its name); others show as a gap.
   * @defaultValue false
   */
  useNativeEventSource?: boolean;
  /** The fetch to use. @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** The WebSocket constructor. @defaultValue globalThis.WebSocket (`ws` in the Node build) */
  WebSocket?: WebSocketConstructor;
  /** The EventSource constructor, for `useNativeEventSource`. @defaultValue globalThis.EventSource */
  EventSource?: EventSourceConstructor;
  /** Numbers in [0, 1) for the jitter. @defaultValue Math.random */
  random?: () => number;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  transports: readonly TransportName[];
  openTimeout: number;
  reconnect: Required<ReconnectOptions>;
  maxQueued: number;
  headers: () => Record<string, string>;
  credentials: RequestCredentials;
  useNativeEventSource: boolean;
  fetch: typeof fetch | undefined;
  WebSocket: WebSocketConstructor | undefined;
  EventSource: EventSourceConstructor | undefined;
  random: () => number;
}

const known: readonly TransportName[] = ['websocket', 'sse', 'poll'];

export function resolveOptions(options: ConnectOptions = {}): ResolvedOptions {
  const transports = options.transports ?? known;
  if (transports.length === 0 || transports.some((t) => !known.includes(t))) {
    throw invalidArgument('invalid-option', `transports must list some of 'websocket', 'sse', 'poll', got ${JSON.stringify(transports)}`);
  }
  const g = globalThis as { WebSocket?: WebSocketConstructor; EventSource?: EventSourceConstructor; fetch?: typeof fetch };
  const resolved = {
    transports,
    openTimeout: positive('openTimeout', options.openTimeout, 5000),
    reconnect: resolveReconnect(options.reconnect),
    maxQueued: positive('maxQueued', options.maxQueued, 1000),
    headers: resolveHeaders(options.headers),
    credentials: options.credentials ?? 'same-origin',
    useNativeEventSource: options.useNativeEventSource ?? false,
    fetch: options.fetch ?? (g.fetch && g.fetch.bind(globalThis)),
    WebSocket: options.WebSocket ?? g.WebSocket,
    EventSource: options.EventSource ?? g.EventSource,
    random: options.random ?? Math.random,
  } satisfies ResolvedOptions & Record<keyof ConnectOptions, unknown>;
  // One key per option, checked by the type: the names a misspelt option is told apart from,
  // without a second list of them in the bundle.
  assertKnown('connect()', options, Object.keys(resolved));
  return resolved;
}

function resolveHeaders(headers: HeadersOption | undefined): () => Record<string, string> {
  return typeof headers === 'function' ? headers : () => headers ?? {};
}

// A misspelt option would be ignored without a word; it throws instead, naming the option
// that starts like it (case ignored). The server suggests by edit distance; here a few
// bytes of the browser bundle's budget buy the common case (`openTimout`, `transport`).
function assertKnown(where: string, options: object, names: readonly string[]): void {
  for (const name in options) {
    if (names.includes(name)) continue;
    const start = name.slice(0, 4).toLowerCase();
    const meant = names.find((known) => known.toLowerCase().startsWith(start));
    throw invalidArgument('invalid-option', `${where} has no option "${name}"${meant ? `; did you mean "${meant}"?` : ''}`);
  }
}

function resolveReconnect(reconnect: ReconnectOptions = {}): Required<ReconnectOptions> {
  const resolved = {
    minDelay: positive('reconnect.minDelay', reconnect.minDelay, 250),
    maxDelay: positive('reconnect.maxDelay', reconnect.maxDelay, 10_000),
    maxAttempts: positive('reconnect.maxAttempts', reconnect.maxAttempts, Infinity),
  };
  assertKnown('reconnect', reconnect, Object.keys(resolved));
  return resolved;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) throw invalidArgument('invalid-option', `${name} must be a positive number, got ${String(value)}`);
  return value;
}
