// Test harness for the channel specs: real servers on 127.0.0.1 port 0, real clients, and
// cleanup registered on the test context so every server and socket is closed at the end.
// What users need of it was lifted into lib/testing (express-channel/testing); new specs can
// use that, which also tests it.
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import WebSocket, { type ClientOptions } from 'ws';
import type { Live } from '../../lib/index.js';

/** Anything with an `after` hook: a test context or the suite's own. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

export interface Served {
  server: Server;
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `ws://127.0.0.1:<port>` */
  wsUrl: string;
  /** The server's open sockets (destroyed after the test). */
  sockets: ReadonlySet<Socket>;
}

/**
 * Serves `app` on 127.0.0.1 port 0; with `live`, calls `live.attach(server)` (unless told not
 * to) and closes `live` at the end. Every socket the server saw is destroyed after the test.
 */
export async function serve(t: Cleanup | TestContext, app: RequestListener, live?: Live, options: { attach?: boolean } = {}): Promise<Served> {
  const server = createServer(app);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  if (live !== undefined && options.attach !== false) live.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    if (live !== undefined) await withTimeout(live.close(), 2000, 'live.close()');
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { server, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, sockets };
}

/** Rejects if `promise` has not settled within `ms`: tests wait for events, never forever. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Sends raw bytes to 127.0.0.1:`port` and reads everything (latin1) until the server closes the connection. */
export async function rawExchange(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let text = '';
  socket.on('data', (chunk: string) => (text += chunk));
  socket.write(request);
  try {
    await withTimeout(once(socket, 'close'), 2000, 'the server to close the connection');
  } finally {
    socket.destroy();
  }
  return text;
}

/** A promise with its resolve function, for values a server handler hands to the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A FIFO of values pushed by callbacks, taken one at a time with a bounded wait. */
export class Inbox<T> {
  readonly #values: T[] = [];
  readonly #waiting: ((value: T) => void)[] = [];

  push(value: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(value);
    else this.#values.push(value);
  }

  get size(): number {
    return this.#values.length;
  }

  next(ms = 2000, what = 'the next value'): Promise<T> {
    if (this.#values.length > 0) return Promise.resolve(this.#values.shift() as T);
    const value = new Promise<T>((resolve) => this.#waiting.push(resolve));
    return withTimeout(value, ms, what);
  }
}

/** Opens a `ws` client and waits for the handshake; it is terminated after the test. */
export async function openWebSocket(t: Cleanup | TestContext, url: string, options?: ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, options);
  t.after(() => ws.terminate());
  // Listen before the handshake: a message sent with the handshake arrives in the same chunk.
  wsInbox(ws);
  await withTimeout(once(ws, 'open'), 2000, `the WebSocket handshake with ${url}`);
  return ws;
}

export interface WsMessage {
  data: Buffer;
  isBinary: boolean;
}
const inboxes = new WeakMap<WebSocket, Inbox<WsMessage>>();

/** The messages a `ws` client receives, as `{ data, isBinary }`, from its opening on. */
export function wsInbox(ws: WebSocket): Inbox<WsMessage> {
  let inbox = inboxes.get(ws);
  if (inbox === undefined) {
    const created = new Inbox<WsMessage>();
    ws.on('message', (data, isBinary) => created.push({ data: data as Buffer, isBinary }));
    inboxes.set(ws, created);
    inbox = created;
  }
  return inbox;
}

export interface SseStream {
  response: Response;
  events: Inbox<EventSourceMessage>;
  comments: Inbox<string>;
  /** Raw text chunks as they arrived. */
  chunks: Inbox<string>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Reads an event stream with `fetch` and eventsource-parser (raw, no reconnects). */
export async function openSse(t: Cleanup | TestContext, url: string, init: RequestInit = {}): Promise<SseStream> {
  const controller = new AbortController();
  t.after(() => controller.abort());
  const headers = new Headers(init.headers);
  if (!headers.has('accept')) headers.set('accept', 'text/event-stream');
  const response = await withTimeout(fetch(url, { ...init, headers, signal: controller.signal }), 2000, `the SSE response of ${url}`);
  const events = new Inbox<EventSourceMessage>();
  const comments = new Inbox<string>();
  const chunks = new Inbox<string>();
  const parser = createParser({ onEvent: (event) => events.push(event), onComment: (comment) => comments.push(comment) });
  const ended = (async () => {
    if (response.body === null) return;
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const text = decoder.decode(value, { stream: true });
        chunks.push(text);
        parser.feed(text);
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
  })();
  ended.catch(() => undefined);
  return { response, events, comments, chunks, ended, close: () => controller.abort() };
}

/** A port free on 127.0.0.1 right now, for a server that cannot listen on port 0 itself (nginx, redis-server). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
