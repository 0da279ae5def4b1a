// What the tabs of one browser say to each other over their BroadcastChannel (docs/client.md,
// "One connection for all tabs"). The leader tab holds the connection and tells every tab
// what happens on it; the other tabs hand it their sends. Every message is structured-cloned,
// so only plain data travels: events go as the arguments that rebuild them.
import type { Data, Outgoing } from '../codec.js';
import type { ClientErrorCode } from '../errors.js';
import type { TransportName } from '../events.js';
import type { SessionKey } from '../transports/http.js';

/** A send of one tab: its `n`-th message (1, 2, 3… per tab), in the session's outbox as client message `seq`. */
export interface QueuedSend {
  tab: string;
  n: number;
  seq: number;
  data: Outgoing;
}

/** What a tab needs to follow the leader, and to take over from it: sent to each tab that says hello. */
export interface Welcome {
  t: 'welcome';
  /** The tab welcomed. */
  to: string;
  /** The last server message delivered before the welcome: the tab receives those after it. */
  lastSeq: number;
  session: SessionKey | undefined;
  readyState: 0 | 1;
  transport: TransportName | undefined;
  /** The client sequence number the next queued send gets. */
  nextSeq: number;
  /** The sends queued and not yet acknowledged by the server, in order. */
  queued: QueuedSend[];
  /** Per tab, the highest `n` queued: a send at or below it is a resend of one already queued. */
  sentBy: [string, number][];
}

/** A connection event as its constructor's arguments (a ClientError as its fields). */
export type RelayedEvent =
  | { type: 'open'; transport: TransportName; resumed: boolean }
  | { type: 'transport'; transport: TransportName; previous: TransportName | undefined }
  | { type: 'gap'; first: number; last: number }
  | { type: 'reconnecting'; attempt: number; delay: number }
  | { type: 'error'; code: ClientErrorCode; message: string; status: number | undefined; transport: TransportName | undefined }
  | { type: 'close'; code: number; reason: string; wasClean: boolean; sessionGone: boolean };

/** Every message between tabs. */
export type TabMessage =
  /** A tab joined (or a new leader asked): who leads answers with a welcome. */
  | { t: 'hello'; from: string }
  /** A tab closed: the leader stops counting it. */
  | { t: 'bye'; from: string }
  /** A tab's `n`-th send, for the leader to queue. */
  | { t: 'send'; from: string; n: number; data: Outgoing }
  | Welcome
  /** `from` now leads (it holds the lock): tabs send it what it has not queued. */
  | { t: 'leader'; from: string }
  /** The session the leader's connection opened (its secret is needed to take over). */
  | { t: 'session'; session: SessionKey }
  /** A server message, numbered as the connection delivered it. */
  | ({ t: 'message'; seq: number; data: Data; name: string | undefined })
  | ({ t: 'queued' } & QueuedSend)
  /** The server delivered client messages up to `received`. */
  | { t: 'released'; received: number }
  /** The server will never take client message `seq` (too large): later ones move up. */
  | { t: 'dropped'; seq: number }
  | ({ t: 'event' } & RelayedEvent);
