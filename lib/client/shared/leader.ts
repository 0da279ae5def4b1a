// The leader tab's part: it holds the one real connection, queues every tab's sends on it,
// and tells every tab (itself included, through `tell`) what the connection delivers and
// does. Made when the tab gets the lock; it resumes the session the tabs share, from the
// state the tab kept as a follower, so a takeover loses and doubles nothing.
import { connectFrom, type Connection } from '../connection.js';
import type { Outgoing } from '../codec.js';
import type { ChannelMessageEvent } from '../events.js';
import type { ConnectOptions } from '../options.js';
import { Outbox } from '../outbox.js';
import type { SessionKey } from '../transports/http.js';
import { relayedTypes, toRelayed } from './relayed-events.js';
import type { Replica } from './replica.js';
import type { TabMessage } from './tab-messages.js';

/** What the leader starts from: the tab's own state, and where it reports. */
export interface LeaderContext {
  tab: string;
  url: string;
  options: ConnectOptions;
  session: SessionKey | undefined;
  /** The last server message the tab delivered: the resume starts after it. */
  lastSeq: number;
  replica: Replica;
  /** Applies `message` in this tab and posts it to the others. */
  tell(message: TabMessage): void;
}

/** The leader's outbox: releases and drops are told to every tab, whose replicas follow. */
class TellingOutbox extends Outbox {
  readonly #tell: (message: TabMessage) => void;
  #released = 0;

  constructor(first: number, tell: (message: TabMessage) => void) {
    super(first);
    this.#tell = tell;
    this.#released = first - 1;
  }

  override release(received: number): void {
    super.release(received);
    if (received <= this.#released) return;
    this.#released = received;
    this.#tell({ t: 'released', received });
  }

  override drop(seq: number): void {
    super.drop(seq);
    this.#tell({ t: 'dropped', seq });
  }
}

export class Leader {
  readonly #ctx: LeaderContext;
  readonly #outbox: TellingOutbox;
  readonly #state: { session: SessionKey | undefined; lastSeq: number; outbox: Outbox };
  readonly #connection: Connection;
  /** The other tabs that said hello and not bye. */
  readonly followers = new Set<string>();

  constructor(ctx: LeaderContext) {
    this.#ctx = ctx;
    this.#outbox = ctx.replica.toOutbox((first) => new TellingOutbox(first, ctx.tell));
    this.#state = { session: ctx.session, lastSeq: ctx.lastSeq, outbox: this.#outbox };
    // Each tab holds its own sends to maxQueued; the shared outbox holds every tab's.
    this.#connection = connectFrom(this.#state, ctx.url, { ...ctx.options, maxQueued: Infinity });
    this.#listen(this.#connection);
  }

  /** The connection's readyState as a follower shows it: open, or on its way. */
  get readyState(): 0 | 1 {
    return this.#connection.readyState === 1 ? 1 : 0;
  }

  get transport(): Connection['transport'] {
    return this.#connection.transport;
  }

  get session(): SessionKey | undefined {
    return this.#state.session;
  }

  /**
   * The welcome for `to`: where the stream stands (every message up to the connection's
   * lastSeq has been told already), and what is queued.
   */
  welcome(to: string): TabMessage {
    const { replica } = this.#ctx;
    return {
      t: 'welcome', to, lastSeq: this.#state.lastSeq, session: this.#state.session, readyState: this.readyState, transport: this.transport,
      nextSeq: replica.nextSeq, queued: [...replica.queued], sentBy: [...replica.sentBy],
    };
  }

  /** Queues `tab`'s `n`-th send, if it is the next one of that tab (earlier ones are resends, later ones come again in order). */
  accept(tab: string, n: number, data: Outgoing): void {
    // After the connection closed for good nothing is queued: its close event tells every tab.
    if (!this.#ctx.replica.expects(tab, n) || this.#connection.readyState >= 2) return;
    this.#connection.send(data);
    const seq = this.#outbox.last;
    this.#ctx.tell({ t: 'queued', tab, n, seq, data: this.#outbox.at(seq) ?? data });
  }

  /** Ends the session (the last tab closed). */
  close(): void {
    this.#connection.close();
  }

  #listen(conn: Connection): void {
    const { tell } = this.#ctx;
    conn.addEventListener('message', (e: ChannelMessageEvent) => tell({ t: 'message', seq: e.seq, data: e.data, name: e.name }));
    // The session (with its secret) before the open: a tab must have it to take over.
    conn.addEventListener('open', () => this.#state.session && tell({ t: 'session', session: this.#state.session }));
    for (const type of relayedTypes) conn.addEventListener(type, (event) => tell({ t: 'event', ...toRelayed(event) }));
  }
}
