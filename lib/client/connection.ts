import { backoffDelay } from './backoff.js';
import { toOutgoing, type Data, type Hello } from './codec.js';
import { ClientError, isFinal } from './errors.js';
import {
  ChannelCloseEvent, ChannelErrorEvent, ChannelMessageEvent, GapEvent, OpenEvent, ReconnectingEvent, TransportEvent,
  type ConnectionEventMap, type TransportName,
} from './events.js';
import { Outbox } from './outbox.js';
import { resolveOptions, type ConnectOptions, type ResolvedOptions } from './options.js';
import { openEventSource } from './transports/eventsource.js';
import { openPoll } from './transports/poll.js';
import { Poster } from './transports/post.js';
import { openSse } from './transports/sse.js';
import type { SessionKey } from './transports/http.js';
import type { Transport, TransportContext, TransportSink } from './transports/transport.js';
import { openWebSocket } from './transports/websocket.js';

/**
 * What a Connection keeps of its session, in one object: the tab-sharing entry (shared/)
 * hands one to a new leader's Connection, which resumes from it and keeps it current.
 */
export interface SessionState {
  session: SessionKey | undefined;
  /** The highest server sequence number delivered. */
  lastSeq: number;
  outbox: Outbox;
}

let given: SessionState | undefined;

/** A Connection that resumes from `state` and keeps it current (for the tab-sharing entry). */
export function connectFrom(state: SessionState, url: string | URL, options?: ConnectOptions): Connection {
  given = state;
  try {
    return new Connection(url, options);
  } finally {
    given = undefined;
  }
}

/** `readyState` values, as on WebSocket. */
export type ReadyState = 0 | 1 | 2 | 3;
/** An `on…` property's handler, as on a WebSocket: called with the event, `this` the connection. */
export type ConnectionHandler<E> = ((this: Connection, event: E) => void) | null;
/** What `addEventListener` takes: a function or an object with `handleEvent`, as the DOM's. */
export type ConnectionListener<E> = ((this: Connection, event: E) => void) | ConnectionListenerObject<E> | null;
/** A listener object, as the DOM's `EventListenerObject`. */
export interface ConnectionListenerObject<E> {
  /** Called with each event. */
  handleEvent(event: E): void;
}

/**
 * Acknowledge server messages after this many, or after ackDelay ms, whichever comes first.
 * An acknowledgement frees the server's replay buffer but costs it a read (on SSE and poll,
 * a whole POST) per client; 512 keeps the default 1,000-message buffer at most half full.
 */
const ackEvery = 512;
const ackDelay = 1000;
const types = ['open', 'message', 'close', 'error', 'reconnecting', 'transport', 'gap'] as const;

/**
 * A session with an express-channel server, WebSocket-like: `send`, `close`, `readyState`
 * and events. It survives lost connections: it reconnects, resumes its session and delivers
 * every server message once and in order. Create it with {@link connect}.
 */
export class Connection extends EventTarget {
  /** `readyState` before the first open, and while reconnecting (as a WebSocket's). */
  static readonly CONNECTING = 0;
  /** `readyState` while a transport is open. */
  static readonly OPEN = 1;
  /** `readyState` after `close()`, until the `close` event. */
  static readonly CLOSING = 2;
  /** `readyState` once closed for good. */
  static readonly CLOSED = 3;

  /** The channel's URL, resolved. */
  readonly url: string;
  /** Called on each `open` (the first, then every resume). */
  onopen: ConnectionHandler<OpenEvent> = null;
  /** Called with each `message` from the server, once and in order. */
  onmessage: ConnectionHandler<ChannelMessageEvent> = null;
  /** Called on the `close` event: the connection is over for good. */
  onclose: ConnectionHandler<ChannelCloseEvent> = null;
  /** Called on each `error` (a transport failed, a connection was lost, a POST failed). */
  onerror: ConnectionHandler<ChannelErrorEvent> = null;
  /** Called before each round of reconnect attempts. */
  onreconnecting: ConnectionHandler<ReconnectingEvent> = null;
  /** Called when the transport in use changes. */
  ontransport: ConnectionHandler<TransportEvent> = null;
  /** Called when the server reported messages lost while the client was away. */
  ongap: ConnectionHandler<GapEvent> = null;

  #state: ReadyState = 0;
  #transport: TransportName | undefined;
  #options: ResolvedOptions;
  #base: URL;
  // Given by connectFrom (the tab-sharing entry), or a session of its own.
  #s: SessionState = given ?? { session: undefined, lastSeq: 0, outbox: new Outbox() };
  #poster: Poster;
  #active: Transport | undefined;
  #attempt: object | undefined; // identifies the transport attempt whose reports count
  #round = 0;
  #names = new Set<string>(); // of named messages the application listens for
  #retryHint = 0; // ms the server asked us to wait before the next round
  #ackedSeq = 0;
  #timers: { ack?: ReturnType<typeof setTimeout> | undefined; open?: ReturnType<typeof setTimeout>; retry?: ReturnType<typeof setTimeout> } = {};

  constructor(url: string | URL, options?: ConnectOptions) {
    super();
    this.#options = resolveOptions(options);
    this.#base = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
    this.url = this.#base.href;
    // The on… properties behave like a WebSocket's: a listener registered first.
    for (const type of types) {
      super.addEventListener(type, (event) => (this[`on${type}`] as ConnectionHandler<Event>)?.call(this, event));
    }
    this.#poster = new Poster({
      url: this.#base,
      options: this.#options,
      outbox: this.#s.outbox,
      session: () => this.#s.session,
      lastSeq: () => this.#s.lastSeq,
      // A POST's answer releases messages only while POSTs carry them: after a switch to
      // WebSocket, the socket numbers them from the hello (see transports/websocket.ts).
      received: (count) => this.#poster.enabled && this.#s.outbox.release(count),
      error: (error) => this.#state < 2 && this.#emit(new ChannelErrorEvent(error, this.#transport)),
      gone: (error) => this.#fail(error, this.#transport),
      // WebSocket writes wait for POSTs in flight (see #flush); SSE and poll need no nudge.
      idle: () => this.#active?.name === 'websocket' && this.#flush(),
    });
    this.#startRound();
  }

  /** 0 connecting (or reconnecting), 1 open, 2 closing, 3 closed: a WebSocket's values. */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** The transport in use (or last used); undefined before the first open. */
  get transport(): TransportName | undefined {
    return this.#transport;
  }

  /**
   * The session id (the server's `channel.id`); undefined before the first open. It is not a
   * secret: what proves this client owns the session is a secret the client keeps to itself.
   */
  get sessionId(): string | undefined {
    return this.#s.session?.id;
  }

  /** Messages given to `send` that the server has not acknowledged yet. */
  get queued(): number {
    return this.#s.outbox.size;
  }

  /**
   * Sends a message: text, or bytes (copied at once). While the connection is not open it
   * waits, up to `maxQueued` messages; it is delivered to the server's `onReceive` exactly
   * once, in order.
   * @throws ClientError `'closed'` after close(); `'queue-full'` past maxQueued.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#state >= 2) throw new ClientError('closed', 'send() after close(): this connection is closed; connect() again');
    const message = toOutgoing(data);
    if (this.#state !== 1 && this.#s.outbox.size >= this.#options.maxQueued) {
      throw new ClientError('queue-full', `send() while disconnected: ${this.#options.maxQueued} messages already wait (maxQueued)`);
    }
    this.#s.outbox.push(message);
    this.#flush();
  }

  /** Closes for good: no reconnect. The `close` event follows (code 1000, `'client-close'`). */
  close(): void {
    if (this.#state >= 2) return;
    const goodbye = this.#state !== 1 || this.#transport !== 'websocket';
    this.#state = 2;
    this.#stop(true);
    // A WebSocket's close frame (1000) ends the session on the server; without one, a DELETE
    // does, so the server need not wait sessionTimeout to let it go.
    if (goodbye && this.#s.session !== undefined) this.#poster.goodbye(this.#s.session);
    setTimeout(() => this.#closed(new ChannelCloseEvent(1000, 'client-close', true, false)), 0);
  }

  // Typed overloads: `conn.addEventListener('message', (e) => e.data)` knows `e`'s type.
  /**
   * Listens for `type` ({@link ConnectionEventMap} names them and their events). Any other
   * type is the name of a named message: `conn.addEventListener('chat', (e) => e.data)`.
   */
  override addEventListener<K extends keyof ConnectionEventMap>(type: K, listener: ConnectionListener<ConnectionEventMap[K]>, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: ConnectionListener<ChannelMessageEvent>, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListener | EventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options);
    if ((types as readonly string[]).includes(type) || this.#names.has(type)) return;
    this.#names.add(type); // a message name: a native EventSource must listen for it
    this.#active?.listen?.(type);
  }

  /** Stops listening (the same `type` and `listener` as given to `addEventListener`). */
  override removeEventListener<K extends keyof ConnectionEventMap>(type: K, listener: ConnectionListener<ConnectionEventMap[K]>, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: ConnectionListener<ChannelMessageEvent>, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListener | EventListenerObject | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options);
  }

  #emit(event: ConnectionEventMap[keyof ConnectionEventMap]): void {
    this.dispatchEvent(event);
  }

  /** A round tries each transport once: the last one that worked first, then the list's order. */
  #startRound(): void {
    const good = this.#transport;
    const list = this.#options.transports;
    this.#try(good === undefined ? [...list] : [good, ...list.filter((t) => t !== good)]);
  }

  #try(queue: TransportName[]): void {
    const name = queue.shift();
    if (name === undefined) return this.#retry();
    const attempt = {};
    this.#attempt = attempt;
    const current = () => this.#attempt === attempt;
    let opened = false;
    const sink: TransportSink = {
      open: (hello) => current() && ((opened = true), this.#opened(name, hello)),
      sync: (hello) => current() && this.#sync(hello),
      message: (data, seq, name) => current() && this.#deliver(data, seq, name),
      received: (count) => current() && this.#s.outbox.release(count),
      end: (error) => {
        if (!current()) return;
        this.#stop(false);
        if (isFinal(error)) return this.#fail(error, name);
        this.#emit(new ChannelErrorEvent(error, name));
        if (this.#state >= 2) return;
        // The server said when to come back (overload, shutdown): not before, and not on the
        // next transport of this round either, which the same server would refuse as well.
        if (error.retryAfter !== undefined) this.#retryHint = Math.max(this.#retryHint, error.retryAfter);
        if (opened) this.#state = 0;
        if (opened || error.retryAfter !== undefined) this.#retry();
        else this.#try(queue);
      },
    };
    const { openTimeout } = this.#options;
    this.#timers.open = setTimeout(() => sink.end(new ClientError('open-timeout', `${name} did not open within ${openTimeout} ms`)), openTimeout);
    const context: TransportContext = {
      url: this.#base,
      session: this.#s.session,
      lastSeq: () => this.#s.lastSeq,
      options: this.#options,
      outbox: this.#s.outbox,
      poster: this.#poster,
      names: this.#names,
    };
    const open = name === 'websocket' ? openWebSocket : name === 'poll' ? openPoll : this.#options.useNativeEventSource ? openEventSource : openSse;
    const transport = open(context, sink);
    if (current()) this.#active = transport;
    else transport.close(false);
  }

  /** Schedules the next round after a jittered delay, or gives up past maxAttempts. */
  #retry(): void {
    const { reconnect, random } = this.#options;
    if (this.#round >= reconnect.maxAttempts) {
      return this.#fail(new ClientError('lost', `no transport opened in ${this.#round} reconnect rounds`, 4000), undefined);
    }
    // A hint is jittered over [hint, 2·hint): clients told the same hint must not come back together.
    const delay = Math.max(backoffDelay(this.#round, reconnect, random), this.#retryHint * (1 + random()));
    this.#retryHint = 0;
    this.#round += 1;
    this.#emit(new ReconnectingEvent(this.#round, delay));
    if (this.#state === 0) this.#timers.retry = setTimeout(() => this.#startRound(), delay);
  }

  #opened(name: TransportName, hello: Hello): void {
    clearTimeout(this.#timers.open);
    const previous = this.#transport;
    const resumed = this.#s.session !== undefined;
    // Only a new session's hello carries the secret; a resume's keeps the one we have.
    if (hello.secret !== undefined || this.#s.session?.id !== hello.session) this.#s.session = { id: hello.session, secret: hello.secret };
    this.#transport = name;
    this.#round = 0;
    this.#state = 1;
    this.#ackedSeq = this.#s.lastSeq;
    if (previous !== name) this.#emit(new TransportEvent(name, previous));
    if (this.#state === 1) this.#emit(new OpenEvent(name, resumed));
    if (this.#state !== 1) return;
    this.#sync(hello);
    if (this.#state !== 1) return; // a gap handler closed the connection
    this.#poster.enabled = name !== 'websocket';
    this.#flush();
  }

  /** The hello's bookkeeping: what the server delivered, and what it no longer had. */
  #sync(hello: Hello): void {
    this.#s.outbox.release(hello.received);
    if (hello.next > this.#s.lastSeq + 1) {
      const [first, last] = hello.gap ?? [this.#s.lastSeq + 1, hello.next - 1];
      this.#s.lastSeq = hello.next - 1;
      this.#emit(new GapEvent(first, last));
    }
  }

  #deliver(data: Data, seq: number, name: string | undefined): void {
    if (seq <= this.#s.lastSeq || this.#state !== 1) return; // already delivered: a resend
    if (seq > this.#s.lastSeq + 1) this.#emit(new GapEvent(this.#s.lastSeq + 1, seq - 1));
    this.#s.lastSeq = seq;
    this.#emit(new ChannelMessageEvent(data, seq, name));
    // A named message also goes to addEventListener(name), as on an EventSource, unless the
    // name is one of the connection's own events ('close' must not look like the close).
    if (name !== undefined && this.#state === 1 && !(types as readonly string[]).includes(name)) this.dispatchEvent(new ChannelMessageEvent(data, seq, name, name));
    if (this.#state !== 1) return; // the handler closed: no acknowledgement timer to leave behind
    if (this.#s.lastSeq - this.#ackedSeq >= ackEvery) this.#ack();
    else this.#timers.ack ??= setTimeout(() => this.#ack(), ackDelay);
  }

  #ack(): void {
    clearTimeout(this.#timers.ack);
    this.#timers.ack = undefined;
    if (this.#state !== 1 || this.#s.lastSeq === this.#ackedSeq) return;
    this.#ackedSeq = this.#s.lastSeq;
    this.#active?.ack?.(this.#s.lastSeq);
  }

  /** Writes what waits: on WebSocket directly (once no POST is in flight, to keep order), else by POST. */
  #flush(): void {
    const active = this.#active;
    if (this.#state !== 1 || active === undefined) return;
    if (active.name !== 'websocket') this.#poster.kick();
    else if (!this.#poster.busy) active.flush?.();
  }

  /** Ends the current transport and every timer; `final` when the application closed. */
  #stop(final: boolean): void {
    this.#attempt = undefined;
    this.#active?.close(final);
    this.#active = undefined;
    this.#poster.stop();
    for (const timer of Object.values(this.#timers)) clearTimeout(timer);
    this.#timers.ack = undefined;
  }

  #fail(error: ClientError, transport: TransportName | undefined): void {
    if (this.#state >= 2) return; // close() owns the ending already
    this.#state = 2;
    this.#stop(false);
    this.#emit(new ChannelErrorEvent(error, transport));
    const { code } = error;
    const [status, reason, gone] =
      code === 'session-closed' ? [1000, String(error.cause), true]
      : code === 'unknown-session' ? [4404, code, true]
      : code === 'resume-refused' ? [4403, code, false]
      : [4000, 'reconnect-failed', false];
    this.#closed(new ChannelCloseEvent(status, reason, false, gone));
  }

  #closed(event: ChannelCloseEvent): void {
    this.#state = 3;
    this.#emit(event);
  }
}
