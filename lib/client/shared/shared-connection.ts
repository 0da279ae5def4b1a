// A connection shared by the tabs of one origin (docs/client.md, "One connection for all
// tabs"): the object each tab holds. It looks like a Connection; behind it one tab leads
// (leader.ts: the real connection) and the others follow over a BroadcastChannel, each
// delivering the stream from where it joined and handing its sends to the leader.
import type { Data, Outgoing } from '../codec.js';
import { toOutgoing } from '../codec.js';
import type { ConnectionListenerObject, ReadyState } from '../connection.js';
import { ClientError } from '../errors.js';
import {
  ChannelCloseEvent, ChannelMessageEvent, GapEvent, type ChannelErrorEvent, type ConnectionEventMap, type OpenEvent, type ReconnectingEvent, type TransportEvent,
  type TransportName,
} from '../events.js';
import { resolveOptions, type ConnectOptions } from '../options.js';
import type { SessionKey } from '../transports/http.js';
import { elect, lockManager } from './election.js';
import { Leader } from './leader.js';
import { fromRelayed } from './relayed-events.js';
import { Replica } from './replica.js';
import type { RelayedEvent, TabMessage, Welcome } from './tab-messages.js';

/** An `on…` property's handler: called with the event, `this` the shared connection. */
export type SharedConnectionHandler<E> = ((this: SharedConnection, event: E) => void) | null;
/** What `addEventListener` takes: a function or an object with `handleEvent`. */
export type SharedConnectionListener<E> = ((this: SharedConnection, event: E) => void) | ConnectionListenerObject<E> | null;

const types = ['open', 'message', 'close', 'error', 'reconnecting', 'transport', 'gap'] as const;

/** A channel that posts nowhere: where there is no BroadcastChannel, the tab is alone. */
const alone = { postMessage: () => undefined, close: () => undefined, onmessage: null } as unknown as BroadcastChannel;

/**
 * One tab's view of a connection shared by every tab of the origin that connected to the
 * same URL: the same members and events as a `Connection` of `express-channel/client`, delivered once and in order
 * in every tab from the moment it connected, over one connection to the server. Create it
 * with the `connect` of `express-channel/client/shared`.
 */
export class SharedConnection extends EventTarget {
  /** `readyState` before the first open, and while reconnecting or changing leader. */
  static readonly CONNECTING = 0;
  /** `readyState` while the shared connection is open. */
  static readonly OPEN = 1;
  /** `readyState` after `close()`, until the `close` event. */
  static readonly CLOSING = 2;
  /** `readyState` once closed for good. */
  static readonly CLOSED = 3;

  /** The channel's URL, resolved. */
  readonly url: string;
  /**
   * This tab's id, random and unique per `connect`: the server sees one channel for all tabs,
   * so a message that must say which tab sent it carries this id (docs/client.md).
   */
  readonly tabId: string;
  /** Called on each `open` (the first, then every resume, a new leader's too). */
  onopen: SharedConnectionHandler<OpenEvent> = null;
  /** Called with each `message` from the server, once and in order. */
  onmessage: SharedConnectionHandler<ChannelMessageEvent> = null;
  /** Called on the `close` event: this tab's connection is over for good. */
  onclose: SharedConnectionHandler<ChannelCloseEvent> = null;
  /** Called on each `error` of the shared connection. */
  onerror: SharedConnectionHandler<ChannelErrorEvent> = null;
  /** Called before each round of reconnect attempts of the shared connection. */
  onreconnecting: SharedConnectionHandler<ReconnectingEvent> = null;
  /** Called when the transport in use changes. */
  ontransport: SharedConnectionHandler<TransportEvent> = null;
  /** Called when the server reported messages lost while the connection was away. */
  ongap: SharedConnectionHandler<GapEvent> = null;

  readonly #options: ConnectOptions;
  readonly #maxQueued: number;
  readonly #channel: BroadcastChannel;
  readonly #election: { stop(): void };
  #state: ReadyState = 0;
  #transport: TransportName | undefined;
  #session: SessionKey | undefined;
  #leader: Leader | undefined;
  /** Whether the stream is this tab's yet: a follower delivers from its welcome on. */
  #joined = false;
  #lastSeq = 0;
  readonly #replica = new Replica();
  /** This tab's sends the leader has not queued yet, by n. */
  readonly #unqueued = new Map<number, Outgoing>();
  #sent = 0;
  #left = false;

  constructor(url: string | URL, options: ConnectOptions = {}) {
    super();
    this.#maxQueued = resolveOptions(options).maxQueued; // bad options throw here, not in the lock
    this.#options = options;
    this.url = new URL(url, (globalThis as { location?: { href: string } }).location?.href).href;
    this.tabId = crypto.randomUUID();
    for (const type of types) {
      super.addEventListener(type, (event) => (this[`on${type}`] as SharedConnectionHandler<Event>)?.call(this, event));
    }
    const locks = lockManager();
    const name = `express-channel ${this.url}`;
    this.#channel = locks === undefined ? alone : new BroadcastChannel(name);
    this.#channel.onmessage = (event: MessageEvent<TabMessage>) => this.#heard(event.data);
    const lead = (): void => this.#lead();
    this.#election = locks === undefined ? (queueMicrotask(lead), { stop: () => undefined }) : elect(locks, name, lead);
    this.#post({ t: 'hello', from: this.tabId });
  }

  /** 0 connecting (or reconnecting, or changing leader), 1 open, 2 closing, 3 closed. */
  get readyState(): ReadyState {
    return this.#state;
  }

  /** The transport the shared connection uses (or last used); undefined before the first open. */
  get transport(): TransportName | undefined {
    return this.#transport;
  }

  /** The session id (the server's `channel.id`), the same in every tab; undefined before the first open. */
  get sessionId(): string | undefined {
    return this.#session?.id;
  }

  /** This tab's messages given to `send` that the server has not acknowledged yet. */
  get queued(): number {
    return this.#unqueued.size + this.#replica.countOf(this.tabId);
  }

  /** True while this tab holds the real connection. */
  get isLeader(): boolean {
    return this.#leader !== undefined;
  }

  /**
   * Sends a message, as `Connection.send`: delivered to the server's `onReceive` once, in
   * this tab's order (the sends of different tabs interleave as they reach the leader).
   * @throws ClientError `'closed'` after close(); `'queue-full'` past maxQueued while not open.
   */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#state >= 2) throw new ClientError('closed', 'send() after close(): this connection is closed; connect() again');
    const message = toOutgoing(data);
    if (this.#state !== 1 && this.queued >= this.#maxQueued) {
      throw new ClientError('queue-full', `send() while disconnected: ${this.#maxQueued} messages already wait (maxQueued)`);
    }
    const n = ++this.#sent;
    this.#unqueued.set(n, message);
    if (this.#leader !== undefined) this.#leader.accept(this.tabId, n, message);
    else this.#post({ t: 'send', from: this.tabId, n, data: message });
  }

  /**
   * Closes this tab's connection for good; the `close` event follows (1000, `'client-close'`).
   * The session lives on while other tabs use it: a leader that closes keeps carrying it for
   * them, unseen, until they have all closed or its page goes.
   */
  close(): void {
    if (this.#state >= 2) return;
    this.#state = 2;
    this.#post({ t: 'bye', from: this.tabId });
    this.#leaveUnlessLeading();
    setTimeout(() => this.#closed(new ChannelCloseEvent(1000, 'client-close', true, false)), 0);
  }

  // Typed overloads, as Connection's.
  /** Listens for `type` ({@link ConnectionEventMap}), or for messages named `type`. */
  override addEventListener<K extends keyof ConnectionEventMap>(type: K, listener: SharedConnectionListener<ConnectionEventMap[K]>, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: SharedConnectionListener<ChannelMessageEvent>, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListener | EventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options);
  }

  /** Stops listening (the same `type` and `listener` as given to `addEventListener`). */
  override removeEventListener<K extends keyof ConnectionEventMap>(type: K, listener: SharedConnectionListener<ConnectionEventMap[K]>, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: SharedConnectionListener<ChannelMessageEvent>, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListener | EventListenerObject | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options);
  }

  /** The lock is this tab's: it takes the session over, from what it knows of it. */
  #lead(): void {
    if (this.#joined || this.#channel === alone) return this.#takeOver();
    // Granted before a welcome came: the leader went, but a welcome it sent may be queued
    // behind this task (a lock's grant and a message are not ordered). Tabs that joined after
    // this one did so after that welcome was sent; with no welcome, no tab knows a session.
    setTimeout(() => this.#takeOver(), 0);
  }

  #takeOver(): void {
    if (this.#state >= 2) return this.#election.stop();
    this.#joined = true; // the stream is this tab's from here, whatever it heard before
    if (this.#state === 1) this.#state = 0;
    this.#leader = new Leader({
      tab: this.tabId, url: this.url, options: this.#options, session: this.#session, lastSeq: this.#lastSeq, replica: this.#replica,
      // Posted first: what this tab does with it may close the channel (a close event).
      tell: (message) => {
        this.#post(message);
        this.#heard(message);
      },
    });
    this.#post({ t: 'leader', from: this.tabId });
    for (const [n, data] of this.#unqueued) this.#leader.accept(this.tabId, n, data);
  }

  #post(message: TabMessage): void {
    // A leader's connection may still report after the tab left (its close event): no one to tell.
    if (!this.#left) this.#channel.postMessage(message);
  }

  /** A message of another tab (or of this tab's leader, told here too). */
  #heard(message: TabMessage): void {
    switch (message.t) {
      case 'welcome':
        return this.#welcomed(message);
      case 'leader':
        if (this.#state === 1) this.#state = 0;
        // A tab that said hello before anyone led (tabs restored together) says it again.
        if (!this.#joined) this.#post({ t: 'hello', from: this.tabId });
        return this.#resend();
      case 'session':
        this.#session = message.session;
        return;
      case 'message':
        return this.#deliver(message.data, message.seq, message.name);
      case 'event':
        return this.#relayed(message);
      case 'queued':
        if (message.tab === this.tabId) this.#unqueued.delete(message.n);
        return this.#replica.queue(message);
      case 'released':
      case 'dropped':
        return this.#replica.apply(message);
      default:
        return this.#toLeader(message);
    }
  }

  /** What the other tabs ask of the leader: heard by every tab, answered by the one leading. */
  #toLeader(message: Extract<TabMessage, { t: 'hello' | 'bye' | 'send' }>): void {
    const leader = this.#leader;
    if (leader === undefined) return;
    if (message.t === 'send') return leader.accept(message.from, message.n, message.data);
    if (message.t === 'bye') {
      leader.followers.delete(message.from);
      return this.#leaveUnlessLeading();
    }
    leader.followers.add(message.from);
    this.#post(leader.welcome(message.from));
  }

  #welcomed(welcome: Welcome): void {
    if (welcome.to !== this.tabId || this.#joined) return;
    this.#joined = true;
    this.#lastSeq = welcome.lastSeq;
    this.#session = welcome.session;
    this.#replica.reset(welcome.nextSeq, welcome.queued, welcome.sentBy);
    for (const send of welcome.queued) if (send.tab === this.tabId) this.#unqueued.delete(send.n);
    this.#resend();
    // Joined an open connection: it opens here now, as a connection of its own would.
    if (welcome.readyState === 1 && welcome.transport !== undefined) {
      this.#relayed({ type: 'transport', transport: welcome.transport, previous: undefined });
      this.#relayed({ type: 'open', transport: welcome.transport, resumed: false });
    }
  }

  /** Posts this tab's sends the leader has not queued, in order: a new leader may not have them. */
  #resend(): void {
    if (this.#leader !== undefined) return;
    for (const [n, data] of this.#unqueued) this.#post({ t: 'send', from: this.tabId, n, data });
  }

  #deliver(data: Data, seq: number, name: string | undefined): void {
    if (!this.#joined || seq <= this.#lastSeq || this.#state >= 2) return;
    if (seq > this.#lastSeq + 1) this.#emit(new GapEvent(this.#lastSeq + 1, seq - 1));
    this.#lastSeq = seq;
    this.#emit(new ChannelMessageEvent(data, seq, name));
    if (name !== undefined && this.#state < 2 && !(types as readonly string[]).includes(name)) this.dispatchEvent(new ChannelMessageEvent(data, seq, name, name));
  }

  /** A connection event, told by the leader: this tab's state follows it, and its listeners hear it. */
  #relayed(relayed: RelayedEvent): void {
    if (!this.#joined || this.#state >= 2) return;
    const event = fromRelayed(relayed);
    if (relayed.type === 'open') this.#state = 1;
    if (relayed.type === 'reconnecting') this.#state = 0;
    if (relayed.type === 'gap') this.#lastSeq = Math.max(this.#lastSeq, relayed.last);
    if (relayed.type === 'open' || relayed.type === 'transport') {
      // A new leader's connection starts with no transport: not a change this tab would see.
      if (relayed.type === 'transport' && relayed.transport === this.#transport) return;
      this.#transport = relayed.transport;
    }
    if (relayed.type !== 'close') return this.#emit(event);
    this.#state = 2;
    this.#leave();
    this.#closed(event as ChannelCloseEvent);
  }

  /** After close(): a follower leaves now; a leader once no follower is left (the session then ends). */
  #leaveUnlessLeading(): void {
    if (this.#state < 2) return;
    const leader = this.#leader;
    if (leader === undefined) return this.#leave();
    if (leader.followers.size > 0) return;
    leader.close();
    this.#leave();
  }

  #leave(): void {
    this.#left = true;
    this.#election.stop();
    this.#channel.onmessage = null;
    this.#channel.close();
  }

  #emit(event: ConnectionEventMap[keyof ConnectionEventMap]): void {
    this.dispatchEvent(event);
  }

  #closed(event: ChannelCloseEvent): void {
    if (this.#state === 3) return;
    this.#state = 3;
    this.#emit(event);
  }
}
