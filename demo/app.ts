// The demo dashboard's server: one express-channel route (/live) that every tab opens as a
// session, carrying live metrics, rooms chat and a numbered message stream; an endpoint that
// cuts a session's connection; the page and its modules, all served from this origin.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { ChannelGroup, channels, type ChannelsOptions, type Live, type Message } from '../lib/index.js';
import { buildAssets, clientPath, type Asset } from './assets.js';
import { limits, type ClientMessage } from './messages.js';
import { Metrics } from './metrics.js';
import { displayName, roomName, Rooms, send, type Peer } from './rooms.js';
import { SessionSockets } from './sockets.js';

export interface DemoOptions {
  /** ms between numbered messages to each tab. @defaultValue 250 */
  tickInterval?: number;
  /** ms between metrics samples. @defaultValue 1000 */
  metricsInterval?: number;
  /** Numbered messages the server sends right after cutting a connection. @defaultValue 20 */
  burst?: number;
  /** Options of the express-channel middleware. @defaultValue the library's defaults */
  channels?: ChannelsOptions;
  /**
   * The name of this process in the cluster demo (with `channels.adapter` the Redis adapter),
   * shown on the page. Unset: one process, today's demo.
   */
  process?: string | undefined;
}

export interface Demo {
  app: Express;
  live: Live;
  /** Serves the demo (WebSocket upgrades included) once its scripts are built. */
  listen(port?: number, host?: string): Promise<Server>;
  /** Stops the timers, closes every channel and the server. */
  close(): Promise<void>;
}

/** What the routes share. */
interface State {
  live: Live;
  everyone: ChannelGroup;
  metrics: Metrics;
  rooms: Rooms;
  sockets: SessionSockets;
  /** Open channels by id (a session's id). */
  peers: Map<string, Peer>;
  burst: number;
  /** This process's name in the cluster demo. */
  process: string | undefined;
  /** In the cluster demo: the tabs on this process (for what only they should get); standalone. */
  here: ChannelGroup | undefined;
}

const publicDir = fileURLToPath(new URL('public/', import.meta.url));
const assetPaths = ['/app.js', '/app.js.map', clientPath, `${clientPath}.map`];

/**
 * Builds the demo app. Nothing runs until `listen`.
 * @example
 * ```ts
 * const demo = createDemo();
 * const server = await demo.listen(0);
 * ```
 */
export function createDemo(options: DemoOptions = {}): Demo {
  const app = express();
  const live = channels(options.channels);
  const everyone = live.group('everyone');
  const metricsInterval = options.metricsInterval ?? 1000;
  // With several processes, a broadcast to `everyone` reaches the tabs of all of them: what
  // one process samples goes to its own tabs only, through a group that only it fills. A
  // standalone group, not a named one: named groups move with a session taken over, and a tab
  // now served by another process would go on getting this one's samples too.
  const label = options.process;
  const cluster = label === undefined ? undefined : { process: label, everyone, audience: new ChannelGroup() };
  const state: State = {
    live,
    everyone,
    metrics: new Metrics(live, cluster?.audience ?? everyone, { interval: metricsInterval, cluster }),
    rooms: new Rooms(live, everyone, ['lobby', 'random', 'support'], cluster),
    sockets: new SessionSockets(),
    peers: new Map(),
    burst: options.burst ?? 20,
    process: label,
    here: cluster?.audience,
  };
  const assets = buildAssets();
  assets.catch(() => undefined); // reported by listen() and by the asset route

  live.on('error', (error) => console.error('express-channel demo:', error));
  app.disable('x-powered-by');
  app.use(state.sockets.track, securityHeaders, blockWebSocket, live);
  app.get('/live', liveRoute(state));
  app.post('/api/cut', express.json({ limit: '1kb' }), cutRoute(state));
  app.get(assetPaths, (req, res, next) => {
    assets.then((built) => serveAsset(res, built.get(req.path)), next);
  });
  app.use(express.static(publicDir));

  const timers: NodeJS.Timeout[] = [];
  let server: Server | undefined;
  return {
    app,
    live,
    async listen(port = 3000, host = '127.0.0.1') {
      await assets;
      server = createServer(app);
      live.attach(server);
      server.listen(port, host);
      await once(server, 'listening');
      state.metrics.start();
      timers.push(setInterval(() => state.rooms.refreshPresence(), metricsInterval));
      timers.push(setInterval(() => state.peers.forEach(tick), options.tickInterval ?? 250));
      return server;
    },
    async close() {
      state.metrics.stop();
      timers.forEach(clearInterval);
      await live.close();
      server?.closeAllConnections();
      await new Promise((resolve) => (server?.listening ? server.close(resolve) : resolve(undefined)));
    },
  };
}

/**
 * GET /live: every tab's session. In the cluster demo the route runs again for a session that
 * another process took over (`ch.resumed`, docs/scaling.md "Takeover"): the channel is in its
 * named groups already (`everyone`, its room) and its unacknowledged messages are replayed
 * first, but what the demo keeps in memory (name, room, numbering) stayed on the old process.
 * The page has it: the route says "resumed", and holds the tab's messages until the page
 * answers with `restore`.
 */
function liveRoute(state: State): RequestHandler {
  return function openPeer(req: Request, res: Response) {
    const ch = req.channel!;
    if (ch.transport === 'http') {
      res.status(426).type('text/plain').send('Open /live with express-channel/client, a WebSocket or an EventSource.\n');
      return;
    }
    const peer: Peer = { channel: ch, key: publicKey(ch.id), name: 'guest', room: undefined, ticks: 0, held: ch.resumed ? [] : undefined };
    state.peers.set(ch.id, peer);
    if (ch.isSession) state.sockets.remember(req.socket, ch.id);
    send(ch, { type: 'welcome', key: peer.key, process: state.process, resumed: ch.resumed, metrics: state.metrics.history, interval: state.metrics.interval, rooms: state.rooms.summary() });
    state.everyone.add(ch); // a member already when taken over: adding again changes nothing
    state.here?.add(ch);
    ch.onReceive((message) => onMessage(state, peer, message));
    ch.onClose((reason) => {
      state.peers.delete(ch.id);
      // Moved to another process: the tab has not left, nobody is told; this process only
      // forgets it (its new process lists it in the room from now on).
      if (reason === 'moved') state.rooms.forget(peer);
      else state.rooms.leave(peer);
    });
  };
}

/** How many messages a taken-over tab may send before its `restore`; more are dropped. */
const heldAtMost = 100;

function onMessage(state: State, peer: Peer, data: Message): void {
  const message = parse(data);
  if (message?.type === 'where') return send(peer.channel, { type: 'here', process: state.process });
  if (peer.held !== undefined) {
    if (message?.type === 'restore') return restore(state, peer, message);
    if (peer.held.length < heldAtMost) peer.held.push(data);
    return;
  }
  if (message?.type === 'join') {
    const room = roomName(message.room);
    if (room === undefined) return send(peer.channel, { type: 'problem', message: 'Room names use letters, digits and dashes.' });
    state.rooms.join(peer, room, displayName(message.name));
  } else if (message?.type === 'say') {
    const text = typeof message.text === 'string' ? message.text.trim().slice(0, limits.text) : '';
    if (text !== '') state.rooms.say(peer, text);
  }
}

/** A taken-over tab's `restore`: its name, room and numbering back, then what it sent meanwhile. */
function restore(state: State, peer: Peer, message: Partial<Extract<ClientMessage, { type: 'restore' }>>): void {
  const held = peer.held ?? [];
  peer.held = undefined;
  if (typeof message.last === 'number' && Number.isSafeInteger(message.last) && message.last >= 0) peer.ticks = message.last;
  peer.name = displayName(message.name);
  const room = message.room === undefined ? undefined : roomName(message.room);
  if (room !== undefined) state.rooms.restore(peer, room, peer.name);
  for (const data of held) onMessage(state, peer, data);
}

/** The next numbered message of a tab's stream. */
function tick(peer: Peer): void {
  if (peer.held !== undefined) return; // taken over: the page has not said where it stands yet
  peer.ticks += 1;
  send(peer.channel, { type: 'tick', n: peer.ticks });
}

/**
 * POST /api/cut `{ session }`: destroys the sockets under the session (no close frame, no
 * goodbye), then keeps sending while it is away. The client must come back, resume and get
 * every one of those messages, once.
 */
function cutRoute(state: State): RequestHandler {
  return function cut(req: Request, res: Response) {
    const session: unknown = req.body?.session;
    const peer = typeof session === 'string' ? state.peers.get(session) : undefined;
    if (peer === undefined) {
      res.status(404).json({ error: 'unknown-session', message: 'No open session with this id.' });
      return;
    }
    if (peer.held !== undefined) {
      res.status(409).json({ error: 'restoring', message: 'The session is moving to this process: try again in a moment.' });
      return;
    }
    const sockets = state.sockets.cut(peer.channel.id);
    for (let i = 0; i < state.burst; i++) tick(peer);
    res.json({ cut: sockets, sent: peer.ticks });
  };
}

function parse(data: Message): Partial<ClientMessage> | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Partial<ClientMessage>) : undefined;
  } catch {
    return undefined; // not the demo's JSON: ignored, like any stray message
  }
}

/** A handle for a channel that can be shown to others: its id is a session secret. */
function publicKey(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 12);
}

function serveAsset(res: Response, asset: Asset | undefined): void {
  if (asset === undefined) {
    res.sendStatus(404);
    return;
  }
  res.type(asset.type).set('cache-control', 'no-cache').send(asset.body);
}

// Nothing from outside: the policy lets the page load only what this server serves.
function securityHeaders(_req: IncomingMessage, res: ServerResponse, next: () => void): void {
  res.setHeader('content-security-policy', "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  next();
}

// The page's "Block WebSocket" switch adds ?block=websocket to its channel URL: this refuses
// the upgrade as a proxy that does not speak WebSocket would, so the client falls back.
function blockWebSocket(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (req.headers.upgrade === undefined || !/[?&]block=websocket(&|$)/.test(req.url ?? '')) return next();
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('WebSocket blocked by the demo (as a proxy might)\n');
}
