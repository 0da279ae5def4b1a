// The seam between the Connection (the contract: sequence numbers, events, reconnects) and a
// transport (moving bytes). A transport reports through its sink and never decides what a
// failure means: the Connection does.
import type { Data, Hello } from '../codec.js';
import type { ClientError } from '../errors.js';
import type { TransportName } from '../events.js';
import type { Outbox } from '../outbox.js';
import type { ResolvedOptions } from '../options.js';
import type { SessionKey } from './http.js';
import type { Poster } from './post.js';

export interface TransportSink {
  /** The server's hello arrived: the transport is open. */
  open(hello: Hello): void;
  /** A later hello-like answer (each poll answer): gap and received bookkeeping. */
  sync(hello: Hello): void;
  /** A server message; `name` is the event name it was sent with, if any. */
  message(data: Data, seq: number, name?: string): void;
  /** The server delivered the client's messages up to `count`. */
  received(count: number): void;
  /** The transport failed to open or ended; called at most once, never after close(). */
  end(error: ClientError): void;
}

export interface TransportContext {
  /** The channel's URL, without the session parameters. */
  url: URL;
  /** The session to resume, if any. */
  session: SessionKey | undefined;
  /** The highest server sequence number delivered to the application. */
  lastSeq(): number;
  options: ResolvedOptions;
  outbox: Outbox;
  poster: Poster;
  /** The names the application listens for with addEventListener(name): a native EventSource delivers a named event only to a listener for its name. */
  names: ReadonlySet<string>;
}

export interface Transport {
  readonly name: TransportName;
  /** Writes the outbox's messages this connection has not written yet; absent where they go by POST. */
  flush?(): void;
  /** Acknowledges server messages up to `seq`; absent where every request already does (poll). */
  ack?(seq: number): void;
  /** The application began listening for messages named `name` (the native EventSource must listen too). */
  listen?(name: string): void;
  /** Stops for good: no more sink calls. `final` when the application closed the connection. */
  close(final: boolean): void;
}

/** A transport that could not start (no WebSocket, no EventSource): it reports `error` after open returns, unless closed first. */
export function failed(name: TransportName, error: ClientError, sink: TransportSink): Transport {
  let done = false;
  queueMicrotask(() => {
    if (!done) sink.end(error);
  });
  return {
    name,
    close() {
      done = true;
    },
  };
}
