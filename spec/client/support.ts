// Test support for the client specs: a real express-channel server on 127.0.0.1 port 0 whose
// `/live` route hands every session channel to the test, with switches to refuse a transport
// or every request, and a way to cut every connection from the server side (socket destroyed,
// not closed politely). Everything is closed after the test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TestContext } from 'node:test';
import express, { type Express } from 'express';
import { channels, type Channel, type ChannelsOptions, type Live, type Message } from '../../lib/index.js';
import type { Connection, ConnectionEventMap } from '../../lib/client/index.js';

export interface TestServer {
  app: Express;
  live: Live;
  server: Server;
  url: string;
  /** Session channels the route claimed, in order. */
  channels: Channel[];
  /** The next channel the route claims (or the last one, if one was claimed already). */
  channel(): Promise<Channel>;
  /** Messages each channel received, by channel id. */
  received: Map<string, Message[]>;
  /** Destroys every socket the server holds. */
  cut(): number;
  /** While true every request (upgrades too) is answered 503. */
  blocked: boolean;
  /** Refuses WebSocket upgrades (403) / event streams (403) while true. */
  refuseWebSocket: boolean;
  refuseSse: boolean;
  /** Never answers WebSocket upgrades while true (neither refused nor accepted). */
  holdWebSocket: boolean;
  /** Resolves with the channel's messages once it has received `count`; rejects after `ms`. */
  receivedCount(ch: Channel, count: number, ms?: number): Promise<Message[]>;
  /** Requests seen, as `METHOD transport-hint`, for asserting what a client tried. */
  requests: string[];
  /** The URL of every request seen (upgrades too), as an access log would record it. */
  urls: string[];
}

export async function startServer(t: TestContext, options: ChannelsOptions = {}, route?: (ch: Channel) => void): Promise<TestServer> {
  const live = channels(options);
  const app = express();
  const sockets = new Set<Socket>();
  const claimed: Channel[] = [];
  const waiters: ((ch: Channel) => void)[] = [];
  const receiveWaiters = new Set<() => void>();
  const state: TestServer = {
    app, live, server: undefined as unknown as Server, url: '', channels: claimed, received: new Map(), requests: [], urls: [],
    blocked: false, refuseWebSocket: false, refuseSse: false, holdWebSocket: false,
    channel: () => new Promise((resolve) => (claimed.length > 0 ? resolve(claimed[claimed.length - 1] as Channel) : waiters.push(resolve))),
    receivedCount: (ch, count, ms = 5000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const messages = state.received.get(ch.id) ?? [];
          if (messages.length < count) return;
          receiveWaiters.delete(check);
          clearTimeout(timer);
          resolve(messages);
        };
        const timer = setTimeout(() => {
          receiveWaiters.delete(check);
          reject(new Error(`channel received ${state.received.get(ch.id)?.length ?? 0} of ${count} messages within ${ms} ms`));
        }, ms);
        receiveWaiters.add(check);
        check();
      }),
    cut: () => {
      const n = sockets.size;
      for (const socket of sockets) socket.destroy();
      return n;
    },
  };
  app.use((req, res, next) => {
    const kind = req.headers.upgrade ? 'websocket' : /event-stream/.test(req.headers.accept ?? '') ? 'sse' : req.url.includes('ect=poll') ? 'poll' : 'http';
    state.requests.push(`${req.method} ${kind}`);
    state.urls.push(req.originalUrl);
    if (state.blocked) return void res.status(503).end();
    if (kind === 'websocket' && state.refuseWebSocket) return void res.status(403).end();
    if (kind === 'websocket' && state.holdWebSocket) return;
    if (kind === 'sse' && state.refuseSse) return void res.status(403).end();
    next();
  });
  app.use(live);
  app.get('/live', (req) => {
    const ch = req.channel!;
    const messages: Message[] = [];
    state.received.set(ch.id, messages);
    ch.onReceive((m) => {
      messages.push(m);
      for (const check of receiveWaiters) check();
    });
    claimed.push(ch);
    route?.(ch);
    for (const resolve of waiters.splice(0)) resolve(ch);
  });
  const server = createServer(app);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  live.attach(server);
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(async () => {
    await Promise.race([live.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  state.server = server;
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
  return state;
}

/** The next `type` event of `conn`, or a rejection after `ms`. */
export function nextEvent<K extends keyof ConnectionEventMap>(conn: Connection, type: K, ms = 5000): Promise<ConnectionEventMap[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event within ${ms} ms`)), ms);
    conn.addEventListener(type, (event) => {
      clearTimeout(timer);
      resolve(event);
    }, { once: true });
  });
}

/** Resolves when `predicate` holds, checked after each `type` event; rejects after `ms`. */
export function until<K extends keyof ConnectionEventMap>(conn: Connection, type: K, predicate: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      conn.removeEventListener(type, check);
      reject(new Error(`condition not met within ${ms} ms`));
    }, ms);
    const check = (): void => {
      if (!predicate()) return;
      clearTimeout(timer);
      conn.removeEventListener(type, check);
      resolve();
    };
    conn.addEventListener(type, check);
  });
}

export { seeded } from '../support/property.js';

/** Fast reconnects for tests. */
export const quick = { reconnect: { minDelay: 5, maxDelay: 40 }, openTimeout: 2000 } as const;
