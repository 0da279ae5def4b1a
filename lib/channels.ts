import { IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Channel } from './channel/channel.js';
import { ChannelSetView } from './channel/channel-set.js';
import type { ChannelGroup } from './groups/group.js';
import { invalidArgument } from './errors.js';
import { ChannelHub, registerHub } from './hub.js';
import type { ChannelStats, ErrorListener } from './hub-types.js';
import { resolveOptions, type ChannelsOptions } from './options.js';
import { handleSessionRequest } from './http/session-requests.js';
import { sessionRequestOf, type SessionRequest } from './protocol/params.js';
import { routeUpgrades, upgradeOf } from './http/upgrade.js';
import { refuseMismatchedTransport } from './http/intended-transport.js';
import { carriesEventStream } from './transports/sse.js';

/** The `next` of Connect and Express middleware. */
export type NextFunction = (error?: unknown) => void;

/**
 * What {@link channels} returns: an Express/Connect middleware that gives every request a
 * `req.channel`, with the registry and lifecycle methods on it.
 */
export interface Live {
  (req: IncomingMessage, res: ServerResponse, next: NextFunction): void;
  /**
   * Routes WebSocket upgrades on `server` through `handler` (by default the server's own
   * request listener: the app passed to `http.createServer` or `app.listen`).
   */
  attach(server: Server, handler?: RequestListener): void;
  /** The group called `name`: the same object for the same name while anyone holds it. */
  group(name: string): ChannelGroup;
  /** The open channels. */
  readonly channels: ReadonlySet<Channel>;
  /** Open channels per transport, and messages sent, dropped, received and queued. */
  stats(): ChannelStats;
  /** Closes every channel with `'shutdown'`, refuses new upgrades, resolves when all are gone. */
  close(): Promise<void>;
  /**
   * A graceful drain for rolling deploys: `ready` turns false at once, new channels are
   * refused with a retry hint, and the open channels are closed with `'shutdown'` (and their
   * reconnect hint) spread evenly over `within` ms, so their clients come back gradually, to
   * the other processes. Resolves once every channel is closed; `close()` then finishes.
   * @defaultValue within: 10000
   */
  drain(options?: { within?: number }): Promise<void>;
  /**
   * Answer your readiness probe (`/readyz`) with it: false until the adapter, if any, first
   * connected and subscribed (a Redis outage later does not turn it false: local channels
   * still work), and false for good once `close()` or `drain()` began.
   */
  readonly ready: boolean;
  /** Errors no caller could be handed: a throwing handler, a failing adapter. */
  on(event: 'error', listener: ErrorListener): Live;
  /** Stops `listener` hearing of errors. */
  off(event: 'error', listener: ErrorListener): Live;
}

const kState = Symbol('express-channel.request');

/**
 * What the middleware leaves on a request for `req.channel`, in one property: a property
 * added to a request Express decorated costs a map transition of its own (its map is its
 * own), so one added instead of four is measurably cheaper per request.
 */
interface RequestState {
  hub: ChannelHub;
  res: ServerResponse;
  session: { poll: boolean } | undefined;
  channel: Channel | undefined;
}

interface ChannelRequest extends IncomingMessage {
  [kState]?: RequestState;
}

// One shared getter for every request: a channel is built only when a handler asks for it,
// and no closure is allocated per request. A request that did not pass through the
// middleware has none (the getter may sit on a prototype, below).
const channelProperty: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: ChannelRequest): Channel | undefined {
    const state = this[kState];
    if (state === undefined) return undefined;
    return (state.channel ??= state.hub.createChannel({ req: this, res: state.res, upgrade: upgradeOf(this) }, state.session));
  },
};

// Express gives each app's requests a prototype of its own (`app.request`): the getter is
// defined there once, instead of on every request (a property defined on an object gives it
// a map of its own: about 10 µs a request, measured). A request whose prototype is Node's own
// (plain `http`, Connect) gets it on itself: Node's prototype is never touched.
const decorated = new WeakSet<object>();
function defineChannel(req: IncomingMessage): void {
  const proto = Object.getPrototypeOf(req) as object;
  if (decorated.has(proto)) return;
  if (proto === IncomingMessage.prototype || Object.prototype.hasOwnProperty.call(proto, 'channel')) {
    Object.defineProperty(req, 'channel', channelProperty);
    return;
  }
  Object.defineProperty(proto, 'channel', channelProperty);
  decorated.add(proto);
}

// A plain EventSource on `?ecs=new` comes back with Last-Event-ID by itself, also after a
// server restart or a session's expiry. A 404 would end it for good (EventSource gives up on
// any non-200), so an unknown session there simply opens a new one.
// (With a session directory, another process may hold it: session-requests.ts asks there first.)
function resumableOrNew(hub: ChannelHub, request: SessionRequest | undefined): SessionRequest | undefined {
  if (request?.kind !== 'resume' || request.fromLastEventId !== true || hub.directory !== undefined || hub.sessions.find(request.id) !== undefined) return request;
  return { kind: 'open', poll: request.poll };
}

/**
 * True when the request was answered or dropped here: sent behind an event stream on its
 * connection (sse.ts gives the stream its socket), or a WebSocket whose upgrade a proxy dropped.
 */
function refused(req: IncomingMessage, res: ServerResponse, hub: ChannelHub): boolean {
  if (!carriesEventStream(req.socket)) return refuseMismatchedTransport(req, res, hub);
  req.socket.destroy();
  return true;
}

/** Makes `req.channel` the channel the route will see: `channel`, or one made on first use. */
function decorate({ req, res, hub }: { req: IncomingMessage; res: ServerResponse; hub: ChannelHub }, session: { poll: boolean } | undefined, channel?: Channel): void {
  const r = req as ChannelRequest;
  r[kState] = { hub, res, session, channel: channel ?? r[kState]?.channel };
  defineChannel(req);
}

function addShutdown(live: Live, hub: ChannelHub): void {
  live.close = () => hub.close();
  live.drain = (options = {}) => hub.drain(drainWithin(options.within));
  Object.defineProperty(live, 'ready', { get: () => !hub.closing && hub.groups.adapterStarted, enumerable: true });
}

function drainWithin(within: unknown): number {
  if (within === undefined) return 10_000;
  if (typeof within !== 'number' || !(within >= 0) || !Number.isFinite(within)) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `drain({ within }) takes milliseconds >= 0, got ${String(within)}`);
  }
  return within;
}

// 'error' is the one event: a misspelt or unsupported name ('connection') must not be taken
// silently and then never fire.
function assertErrorListener(method: string, event: unknown, listener: unknown): void {
  if (event !== 'error') {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `live.${method}() knows one event, 'error'; got ${JSON.stringify(event)}`);
  }
  if (typeof listener !== 'function') {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `live.${method}('error', listener) takes a function, got ${listener === null ? 'null' : typeof listener}`);
  }
}

/**
 * Creates the middleware.
 * @param options - heartbeats, limits, sessions, adapter; every one optional.
 * @example
 * ```ts
 * const live = channels();
 * app.use(live);
 * app.get('/echo', (req) => { const ch = req.channel!; ch.onReceive((m) => ch.send(m)); });
 * live.attach(app.listen(3000));
 * ```
 */
export function channels(options?: ChannelsOptions): Live {
  const hub = new ChannelHub(resolveOptions(options));

  function expressChannel(req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    if (refused(req, res, hub)) return;
    const session = resumableOrNew(hub, sessionRequestOf(req.url, req.headers));
    // A request that continues a session is answered here (its route already ran once),
    // unless the session was taken over from another process: the route runs again for it.
    if (session !== undefined && session.kind !== 'open') {
      const continueAs = (channel: Channel | 'new'): void => {
        decorate({ req, res, hub }, { poll: session.kind === 'resume' && session.poll }, channel === 'new' ? undefined : channel);
        next();
      };
      return handleSessionRequest(hub, { req, res, upgrade: upgradeOf(req), continueAs }, session);
    }
    decorate({ req, res, hub }, session);
    next();
  }

  const live = expressChannel as Live;
  registerHub(live, hub);
  const openChannels = new ChannelSetView(hub.open);
  Object.defineProperty(live, 'channels', { get: () => openChannels, enumerable: true });
  const isClosing = () => hub.closing;
  const reportError = (error: unknown) => hub.reportError(error);
  live.attach = (server, handler) => routeUpgrades(server, { handler, isClosing, reportError, pacer: hub.pacer });
  live.group = (name) => {
    if (typeof name !== 'string') throw new TypeError(`group() takes a name string, got ${typeof name}`);
    return hub.group(name);
  };
  live.stats = () => hub.stats();
  addShutdown(live, hub);
  live.on = (event, listener) => {
    assertErrorListener('on', event, listener);
    hub.onError(listener);
    return live;
  };
  live.off = (event, listener) => {
    assertErrorListener('off', event, listener);
    hub.offError(listener);
    return live;
  };
  return live;
}
