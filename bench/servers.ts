// The servers compared by the benchmark. Each one accepts clients on its path, keeps them in
// one broadcast set (a group, a room, a channel) and broadcasts a text message to all of them.
// Baselines are written the way a careful user of the bare library would write them.
import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import express from 'express';
import * as wsModule from 'ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { Server as SocketIoServer } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createChannel, createSession } from 'better-sse';
import { channels } from '../lib/index.js';
import { redisAdapter, type Adapter } from '../lib/redis/index.js';
import type { ServerKind } from './protocol.js';

export interface BenchServer {
  readonly server: Server;
  /** Sends `text` to every client. */
  broadcast(text: string): void;
  /** Clients connected and ready to receive broadcasts. */
  count(): number;
  /** Closes every connection (the server itself is closed by the caller). */
  close(): Promise<void>;
  /** Settles once the server can take part in a broadcast (for the Redis kinds: once subscribed). */
  ready?: Promise<void> | undefined;
}

export function createBenchServer(kind: ServerKind): BenchServer {
  switch (kind) {
    case 'ws-loop':
      return rawWebSocket(false);
    case 'ws-corked':
      return rawWebSocket(true);
    case 'socketio':
      return socketIo();
    case 'socketio-poll':
      return socketIo(undefined, 'polling');
    case 'ec-poll':
      return expressChannel();
    case 'sse-loop':
      return rawSse(false);
    case 'sse-corked':
      return rawSse(true);
    case 'express-sse':
      return rawSse(true, true);
    case 'express-ws':
      return expressWebSocket();
    case 'better-sse':
      return betterSse();
    case 'ec-ws':
    case 'ec-ws-session':
    case 'ec-sse':
    case 'ec-sse-session':
      return expressChannel();
    case 'ec-ws-f2':
      return expressChannel(undefined, 2);
    case 'ec-ws-f10':
    case 'ec-sse-f10':
    case 'ec-poll-f10':
      return expressChannel(undefined, 10);
    case 'ec-ws-redis':
      return expressChannel(redisSettings(), Number(process.env.BENCH_FLUSH_INTERVAL ?? 0)); // bench/cluster.ts's -f10 row
    case 'socketio-redis':
      return socketIo(redisSettings());
  }
}

// --- through Redis: one of several processes, set up by bench/cluster.ts ---

interface RedisSettings {
  url: string;
  /** Unique to one run, so that runs (and other users of the shared Redis) never hear each other. */
  prefix: string;
}

function redisSettings(): RedisSettings {
  const prefix = process.env.BENCH_REDIS_PREFIX;
  if (prefix === undefined || prefix === '') throw new Error('a -redis bench server needs BENCH_REDIS_PREFIX (bench/cluster.ts sets it)');
  return { url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', prefix };
}

/**
 * The adapter itself (every member `live` looks for, the session directory's too), its
 * `subscribe` watched: the promise settles once `live` has subscribed through it.
 */
function observedAdapter(adapter: Adapter): { adapter: Adapter; subscribed: Promise<void> } {
  let settle!: (done: Promise<void>) => void;
  const subscribed = new Promise<void>((resolve) => (settle = (done) => resolve(done)));
  const subscribe = adapter.subscribe.bind(adapter);
  adapter.subscribe = (onMessage, events) => {
    const done = Promise.resolve(subscribe(onMessage, events));
    settle(done);
    return done;
  };
  return { adapter, subscribed };
}

// --- cork for the tick: the baseline's own copy, so the baseline does not depend on lib/ ---

let corked: Writable[] = [];
let flushScheduled = false;
const kCorked = Symbol('bench.corked');
type Corkable = Writable & { [kCorked]?: boolean };

function corkForTick(stream: Writable): void {
  const s = stream as Corkable;
  if (s[kCorked] === true) return;
  s[kCorked] = true;
  s.cork();
  corked.push(s);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(uncorkAll);
  }
}

function uncorkAll(): void {
  const batch = corked as Corkable[];
  corked = [];
  flushScheduled = false;
  for (const s of batch) {
    s[kCorked] = false;
    s.uncork();
  }
}

// --- raw ws ---

const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

function rawWebSocket(frameOnce: boolean): BenchServer {
  const server = createServer();
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false });
  const clients = new Set<WebSocket>();
  wss.on('connection', (ws: WebSocket) => {
    clients.add(ws);
    ws.on('close', function wsOnClose(this: WebSocket) {
      clients.delete(this);
    });
    ws.on('error', noop);
  });
  const loop = (text: string): void => {
    for (const ws of clients) ws.send(text);
  };
  const corkedOnce = (text: string): void => {
    // One frame (header and payload in one buffer) for everybody, written straight to each
    // socket, corked until the end of the tick so a burst leaves as one writev per client.
    const frame = Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }));
    for (const ws of clients) {
      const socket = (ws as unknown as { _socket: Socket })._socket;
      corkForTick(socket);
      socket.write(frame);
    }
  };
  return {
    server,
    broadcast: frameOnce ? corkedOnce : loop,
    count: () => clients.size,
    close: async () => {
      for (const ws of clients) ws.terminate();
      wss.close();
    },
  };
}

// --- Express + ws, by hand ---

/**
 * What express-channel does for a WebSocket, done by hand: every upgrade goes through the
 * Express app on a `ServerResponse` built on its socket (so middleware and routing apply), and
 * the route hands the socket to a `noServer` ws server's `handleUpgrade`. Broadcasts as the
 * frame-once corked row.
 */
function expressWebSocket(): BenchServer {
  const app = express();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const clients = new Set<WebSocket>();
  const kUpgrade = Symbol('bench.upgrade');
  type UpgradeRequest = IncomingMessage & { [kUpgrade]?: { socket: Socket; head: Buffer } };
  app.get('/ws', (req: UpgradeRequest, res) => {
    const upgrade = req[kUpgrade];
    if (upgrade === undefined) return void res.status(426).end();
    res.detachSocket(upgrade.socket);
    wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
      clients.add(ws);
      ws.on('close', function wsOnClose(this: WebSocket) {
        clients.delete(this);
      });
      ws.on('error', noop);
    });
  });
  const server = createServer(app);
  server.on('upgrade', (req: UpgradeRequest, socket: Socket, head: Buffer) => {
    socket.on('error', noop);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    req[kUpgrade] = { socket, head };
    app(req, res);
  });
  return {
    server,
    broadcast: (text) => {
      const frame = Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false }));
      for (const ws of clients) {
        const socket = (ws as unknown as { _socket: Socket })._socket;
        corkForTick(socket);
        socket.write(frame);
      }
    },
    count: () => clients.size,
    close: async () => {
      for (const ws of clients) ws.terminate();
      wss.close();
    },
  };
}

// --- socket.io ---

function socketIo(redis?: RedisSettings, transport: 'websocket' | 'polling' = 'websocket'): BenchServer {
  const server = createServer();
  const io = new SocketIoServer(server, {
    transports: [transport],
    perMessageDeflate: false,
    // No engine.io pings during a run: the bench clients answer them, but they add noise.
    pingInterval: 120_000,
    pingTimeout: 60_000,
  });
  io.on('connection', (socket) => {
    void socket.join('g');
  });
  const clients = redis === undefined ? undefined : socketIoRedis(io, redis);
  return {
    server,
    broadcast: (text) => {
      io.to('g').emit('m', text);
    },
    count: () => io.of('/').adapter.rooms.get('g')?.size ?? 0,
    close: async () => {
      io.disconnectSockets(true);
      await io.close();
      await clients?.close();
    },
    ready: clients?.ready,
  };
}

/** @socket.io/redis-adapter as its README sets it up: a publishing client and its duplicate for subscriptions. */
function socketIoRedis(io: SocketIoServer, redis: RedisSettings): { ready: Promise<void>; close(): Promise<void> } {
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) client.on('error', (error: unknown) => console.error('bench socket.io redis:', error));
  const ready = (async () => {
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: `${redis.prefix}-sio` }));
    // The adapter subscribes without handing out the promise; commands on one connection are
    // answered in order, so once this one is, so are the adapter's.
    await sub.subscribe(`${redis.prefix}-sio-ready`, noop);
  })();
  return {
    ready,
    close: async () => {
      await Promise.allSettled([sub.close(), pub.close()]);
    },
  };
}

// --- raw SSE ---

const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function rawSse(corkedSocket: boolean, viaExpress = false): BenchServer {
  const responses = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url !== '/sse') {
      res.writeHead(404).end();
      return;
    }
    if (corkedSocket) {
      // Body delimited by the end of the connection: no chunked framing, so event bytes can
      // go to the socket itself once the headers are out.
      res.useChunkedEncodingByDefault = false;
      res.shouldKeepAlive = false;
    }
    res.writeHead(200, sseHeaders);
    res.flushHeaders();
    if (corkedSocket && res.socket !== null) {
      const socket = res.socket;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    } else {
      responses.add(res);
      res.on('close', () => responses.delete(res));
    }
  };
  let server: Server;
  if (viaExpress) {
    const app = express();
    app.get('/sse', handler);
    server = createServer(app);
  } else {
    server = createServer(handler);
  }
  const loop = (text: string): void => {
    const event = `data: ${text}\n\n`;
    for (const res of responses) res.write(event);
  };
  const corkedOnce = (text: string): void => {
    const event = Buffer.from(`data: ${text}\n\n`);
    for (const socket of sockets) {
      corkForTick(socket);
      socket.write(event);
    }
  };
  return {
    server,
    broadcast: corkedSocket ? corkedOnce : loop,
    count: () => (corkedSocket ? sockets.size : responses.size),
    close: async () => {
      for (const res of responses) res.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

// --- better-sse ---

function betterSse(): BenchServer {
  const channel = createChannel();
  const server = createServer((req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404).end();
      return;
    }
    // Its defaults: JSON serializer, a retry field, a keep-alive comment every 10 s.
    createSession(req, res).then(
      (session) => channel.register(session),
      () => res.destroy(),
    );
  });
  return {
    server,
    broadcast: (text) => {
      channel.broadcast(text);
    },
    count: () => channel.sessionCount,
    close: async () => {
      for (const session of channel.activeSessions) channel.deregister(session);
      server.closeAllConnections();
    },
  };
}

// --- express-channel ---

function expressChannel(redis?: RedisSettings, flushInterval = 0): BenchServer {
  const app = express();
  const mode = process.env.BENCH_REDIS_MODE === 'streams' ? 'streams' : 'pubsub'; // bench/cluster.ts's streams row
  const observed = redis === undefined ? undefined : observedAdapter(redisAdapter({ url: redis.url, prefix: redis.prefix, mode }));
  // Connects are measured at full speed: the default handshakeRate (1,500/s) would pace them.
  const live = channels({ handshakeRate: Infinity, flushInterval, ...(observed === undefined ? {} : { adapter: observed.adapter }) });
  const group = live.group('g');
  app.use(live);
  app.get('/live', (req) => {
    group.add(req.channel!);
  });
  const server = createServer(app);
  live.attach(server);
  live.on('error', (error) => console.error('bench server:', error));
  return {
    server,
    broadcast: (text) => {
      group.broadcast(text);
    },
    count: () => group.size,
    close: () => live.close(),
    ready: observed?.subscribed,
  };
}

function noop(): void {}
