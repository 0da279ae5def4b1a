import type { IncomingHttpHeaders } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { Inbox, type Ended } from './inbox.js';
import { TestRequest, type ChunkListener, type RequestOptions, type ResponseHead } from './http-request.js';
import { defaultTimeout } from './within.js';

export type { EventSourceMessage };

/**
 * A raw event stream (what an `EventSource` reads, without its reconnects): the events and the
 * comments (heartbeats) parsed as they arrive.
 */
export class TestEventStream {
  readonly #request: TestRequest;
  readonly #events: Inbox<EventSourceMessage>;
  readonly #comments: Inbox<string>;
  /** The response's status (200, or what the route's first `send` set). */
  readonly status: number;
  /** The response's headers, lower-cased as Node gives them. */
  readonly headers: IncomingHttpHeaders;

  /** @internal Use {@link TestScope.eventStream}. */
  constructor(request: TestRequest, received: { head: ResponseHead; events: Inbox<EventSourceMessage>; comments: Inbox<string> }) {
    this.#request = request;
    this.#events = received.events;
    this.#comments = received.comments;
    this.status = received.head.status;
    this.headers = received.head.headers;
  }

  /** The raw text chunks as they arrived, for a test of the exact bytes. */
  get chunks(): readonly string[] {
    return this.#request.chunks;
  }

  /** Every event received so far, in order. */
  get events(): readonly EventSourceMessage[] {
    return this.#events.messages;
  }

  /** Comment lines received so far (the server's heartbeats), without the leading colon. */
  get comments(): readonly string[] {
    return this.#comments.messages;
  }

  /** The next comment line not taken yet: awaits a heartbeat. */
  nextComment(ms = defaultTimeout): Promise<string> {
    return this.#comments.next(ms);
  }

  /** The next event not taken yet: `{ data, event?, id? }`. */
  next(ms = defaultTimeout): Promise<EventSourceMessage> {
    return this.#events.next(ms);
  }

  /** Resolves once the server ended the stream; fails after `ms` while it is open. */
  closed(ms = defaultTimeout): Promise<Ended> {
    return this.#events.closed(ms);
  }

  /** Closes the stream from the client side (an `EventSource.close()`). */
  close(): void {
    this.#request.cut();
  }

  /** Cuts the connection as the network would (TCP reset). */
  cut(): void {
    this.#request.cut();
  }
}

/** Opens an event stream; resolves once its head arrived, or fails saying what came instead. */
export async function openEventStream(url: string, options: RequestOptions = {}): Promise<TestEventStream> {
  const events = new Inbox<EventSourceMessage>(`the event stream ${url}`);
  const comments = new Inbox<string>(`the comments of the event stream ${url}`);
  const parser = createParser({ onEvent: (event) => events.push(event), onComment: (comment) => comments.push(comment) });
  const ended = (how: Ended): void => {
    events.end(how);
    comments.end(how);
  };
  const listener: ChunkListener = { chunk: (text) => parser.feed(text), end: ended };
  const request = new TestRequest(url, { ...options, headers: { accept: 'text/event-stream', ...options.headers } }, listener);
  const head = await request.response();
  const type = String(head.headers['content-type'] ?? '');
  if (!type.startsWith('text/event-stream')) {
    const body = await request.body().catch(() => '');
    throw new Error(`expected an event stream from ${url}, got ${head.status} ${type}${body === '' ? '' : `: ${body.slice(0, 200)}`}`);
  }
  return new TestEventStream(request, { head, events, comments });
}
