import { ServerResponse, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ChannelError } from '../errors.js';
import type { UpgradeContext } from '../channel/host.js';
import type { HandshakePacer } from './handshake-pacer.js';
import { debug, debugEnabled } from '../debug.js';

const kUpgrade = Symbol('express-channel.upgrade');
const routers = new WeakMap<Server, UpgradeRouting>();
type UpgradeRequest = IncomingMessage & { [kUpgrade]?: UpgradeContext; upgrade?: boolean };

/** The raw socket of an upgrade request that came through `live.attach`, if any. */
export function upgradeOf(req: IncomingMessage): UpgradeContext | undefined {
  // Node's own flag first: a symbol the request does not have is a slow miss on every request.
  return (req as UpgradeRequest).upgrade === true ? (req as UpgradeRequest)[kUpgrade] : undefined;
}

/** How `live.attach` routes a server's upgrades. */
export interface UpgradeRouting {
  /** The request listener upgrades go through; by default the server's own (the app). */
  handler?: RequestListener | undefined;
  /** True once `live.close()` was called: upgrades are then answered 503. */
  isClosing(): boolean;
  /** Where a failure of the routing itself goes (`live.on('error')`). */
  reportError(error: unknown): void;
  /** Spreads handshakes over time (`handshakeRate`); absent when unlimited. */
  pacer?: HandshakePacer | undefined;
}

/**
 * Routes WebSocket upgrades through the app before any handshake, as if they were plain
 * requests: a `ServerResponse` is built on the raw socket, so a middleware that answers 401
 * or an unmatched route's 404 goes out as a real HTTP response; only a handler that claims
 * `req.channel` completes the handshake.
 */
export function routeUpgrades(server: Server, routing: UpgradeRouting): void {
  // Two routers on one server would both handshake the same socket: one per server, and
  // attaching the same `live` again changes nothing.
  const attached = routers.get(server);
  if (attached?.isClosing === routing.isClosing) return;
  if (attached !== undefined) {
    throw new ChannelError('ERR_CHANNEL_ALREADY_ATTACHED', 'this server already routes its upgrades through another channels() instance; attach one per server');
  }
  routers.set(server, routing);
  server.on('upgrade', function routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', destroyOnError);
    // An upgrade pipelined behind a request whose response still owns the socket cannot be
    // answered in order: drop the connection rather than interleave two responses.
    if ((socket as Duplex & { _httpMessage?: unknown })._httpMessage != null) {
      socket.destroy();
      return;
    }
    const start = () => guardedDispatch(server, routing, { req, socket, head });
    if (routing.pacer === undefined) start();
    else routing.pacer.admit(socket, start);
  });
}

function guardedDispatch(server: Server, routing: UpgradeRouting, upgrade: Upgrade): void {
  try {
    dispatchUpgrade(routing.handler ?? (server.listeners('request')[0] as RequestListener | undefined), routing, upgrade);
  } catch (error) {
    // Nothing may throw out of an 'upgrade' listener or the pacer's timer (it would crash the
    // process): the connection goes, the error is reported.
    upgrade.socket.destroy();
    routing.reportError(error);
  }
}

interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

function dispatchUpgrade(listener: RequestListener | undefined, routing: UpgradeRouting, { req, socket, head }: Upgrade): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Parameters<ServerResponse['assignSocket']>[0]);
  res.on('finish', endSocketAfterResponse);
  (req as UpgradeRequest)[kUpgrade] = new SocketUpgrade(res, socket, head);
  if (routing.isClosing()) {
    if (debugEnabled) debug('refused a websocket upgrade: 503, shutting down');
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('Server is shutting down');
    return;
  }
  if (listener === undefined) {
    res.writeHead(404).end();
    return;
  }
  listener(req, res);
}

// A class rather than an object literal with a closure: one allocation less per upgrade.
class SocketUpgrade implements UpgradeContext {
  readonly #res: ServerResponse;
  readonly socket: Duplex;
  readonly head: Buffer;

  constructor(res: ServerResponse, socket: Duplex, head: Buffer) {
    this.#res = res;
    this.socket = socket;
    this.head = head;
  }

  release(): void {
    this.#res.off('finish', endSocketAfterResponse);
    this.#res.detachSocket(this.socket as Parameters<ServerResponse['detachSocket']>[0]);
  }
}

function endSocketAfterResponse(this: ServerResponse): void {
  const socket = this.socket;
  if (socket === null) return;
  this.detachSocket(socket);
  socket.end();
}

// A client can reset the socket at any time; without a listener that would crash the server.
function destroyOnError(this: Duplex): void {
  this.destroy();
}
