import { WebSocketServer } from 'ws';
import { channelOf, type Channel } from './channel/channel.js';
import { ChannelCore, type ChannelHost } from './channel/core.js';
import { newCounters, type RefusalCause } from './channel/counters.js';
import type { RequestContext, WireRequest } from './channel/host.js';
import type { ChannelGroup } from './groups/group.js';
import { GroupRegistry } from './groups/registry.js';
import { Admission, type Refusals } from './http/admission.js';
import type { ChannelStats, ErrorListener } from './hub-types.js';
import { createWire } from './http/claim.js';
import { answerElsewhere, serveForwarded } from './http/forwarding.js';
import { handOverSession } from './http/takeover.js';
import type { Adoption, Exchange } from './http/session-requests.js';
import type { ResumeRequest } from './protocol/params.js';
import { canTakeOver, isSessionDirectory, type SessionDirectory } from './sessions/directory.js';
import { HandshakePacer } from './http/handshake-pacer.js';
import { spread, waitAtMost } from './drain.js';
import { transportFromHeaders } from './http/negotiate.js';
import type { ResolvedOptions } from './options.js';
import type { CloseReason } from './protocol/close-reasons.js';
import { MemorySessionStore, type SessionStore } from './sessions/session-store.js';
import { chooseProtocol } from './transports/websocket.js';
import type { TransportName, Wire } from './transports/wire.js';

const noRefusals: Refusals = { maxChannels: 0, maxChannelsPerIp: 0 };

// How long a closed polling session still answers one poll with its last messages and the
// reason. A polling client asks again as soon as an answer arrives, so a few seconds suffice.
const closedPollGrace = 5000;

/**
 * The state behind one `channels()` instance: options, open channels, counters, heartbeats,
 * groups. The middleware function is a thin face over it.
 */
export class ChannelHub implements ChannelHost {
  readonly options: ResolvedOptions;
  readonly counters = newCounters();
  readonly open = new Set<ChannelCore>();
  readonly groups: GroupRegistry;
  readonly sessions: SessionStore<ChannelCore> = new MemorySessionStore<ChannelCore>();
  closing = false;
  readonly #errorListeners = new Set<ErrorListener>();
  #webSocketServer: WebSocketServer | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;
  // Only when a limit is set: without one, a connect costs no address lookup and a channel no map entry.
  readonly #admission: Admission | undefined;
  /** Spreads WebSocket handshakes (`handshakeRate`); none when it is Infinity. */
  readonly pacer: HandshakePacer | undefined;
  // Directory entries of buried polling sessions, let go when their grace ends.
  readonly #pendingReleases = new Map<NodeJS.Timeout, string>();
  /** Which process owns each session, with an adapter that keeps one (the Redis adapter). */
  readonly directory: SessionDirectory | undefined;
  /** A session not held here may live on another process: forwarded there (forwarding.ts). */
  readonly elsewhere: ((x: Exchange, request: ResumeRequest) => void) | undefined;
  /** Sessions being taken over from other processes (http/takeover.ts). */
  readonly takeovers = new Map<string, Promise<void>>();

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.groups = new GroupRegistry(options.adapter, (error) => this.reportError(error));
    if (options.maxChannels !== Infinity || options.maxChannelsPerIp !== Infinity) this.#admission = new Admission(options);
    if (options.handshakeRate !== Infinity) this.pacer = new HandshakePacer({ perSecond: options.handshakeRate, maxWait: 5000 });
    const directory = isSessionDirectory(options.adapter) ? options.adapter : undefined;
    this.directory = directory;
    if (directory !== undefined) {
      const cluster = { directory, pollTimeout: options.pollTimeout };
      this.elsewhere = (x, request) => answerElsewhere(cluster, x, request);
      directory.serve((request, exchange) => serveForwarded(this, request, exchange));
      if (canTakeOver(directory)) directory.serveTakeovers((request, highWater) => handOverSession(this, request, highWater));
    }
  }

  /**
   * The channel of a request. `openSession` is set when the request asked for a new session
   * (`ecs=new`); a plain HTTP request cannot carry one and stays a plain channel.
   */
  createChannel(context: RequestContext, openSession?: { poll: boolean }): Channel {
    const transport: TransportName = openSession?.poll === true ? 'poll' : transportFromHeaders(context.req.headers);
    return channelOf(new ChannelCore(this, { context, transport, session: openSession !== undefined && transport !== 'http' }));
  }

  /**
   * The channel of a session taken over from another process (http/takeover.ts): opened on
   * this request's connection at `ack`, a member of its named groups again. One tick, so that
   * no broadcast falls between the late ones it was handed and its groups.
   */
  adopt(context: RequestContext, { transport, handed, groups, ack }: Adoption): ChannelCore {
    const core = new ChannelCore(this, { context, transport, session: true, handed });
    core.adopt(context, ack);
    const channel = channelOf(core);
    for (const name of groups) this.groups.group(name).add(channel);
    return core;
  }

  openWire(request: WireRequest): Wire | CloseReason {
    const admission = this.closing ? undefined : this.#admission;
    if (admission === undefined) return createWire(request, this);
    const admitted = admission.admit(request.sink, request.context.req, request.context.res);
    if (typeof admitted !== 'string') return admitted.refused;
    const wire = createWire(request, this);
    if (typeof wire !== 'string') admission.opened(request.sink, admitted);
    return wire;
  }

  group(name: string): ChannelGroup {
    return this.groups.group(name);
  }

  webSocketServer(): WebSocketServer {
    // noServer: upgrades reach ws only after the app routed them (see upgrade.ts).
    return (this.#webSocketServer ??= new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.options.maxPayload,
      handleProtocols: chooseProtocol,
    }));
  }

  channelOpened(channel: ChannelCore): void {
    this.open.add(channel);
    if (channel.session !== undefined) {
      this.sessions.add(channel);
      this.directory?.claimed(channel.id);
    }
    if (this.#heartbeatTimer === undefined && this.options.heartbeat > 0) {
      this.#heartbeatTimer = setInterval(sweepHeartbeats, this.options.heartbeat, this);
      this.#heartbeatTimer.unref();
    }
  }

  channelClosed(channel: ChannelCore): void {
    this.open.delete(channel);
    this.#admission?.closed(channel);
    if (channel.session !== undefined) {
      this.sessions.delete(channel);
      // A polling client learns of a close from its next poll: keep the session for it, and
      // its place in the directory as long, so that a poll on another process comes here.
      const moved = channel.closeReason === 'moved'; // its new owner holds the directory entry now
      const buried = channel.transport === 'poll' && !this.closing && !moved;
      if (buried) this.sessions.bury(channel, closedPollGrace);
      if (buried && this.directory !== undefined) this.#releaseLater(channel.id);
      else if (!moved) this.directory?.released(channel.id);
      // Either way it no longer keeps its groups' logs (a buried one keeps copies).
      channel.session.release(buried);
    }
    if (this.open.size > 0) return;
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#drained?.();
  }

  /** One heartbeat period passed: every open channel pings or writes its comment. */
  sweep(): void {
    for (const channel of this.open) guarded(channel, beat);
  }

  refused(cause: RefusalCause): void {
    this.counters.refusals[cause]++;
  }

  /** Refusals by `maxChannels` and `maxChannelsPerIp`, counted by the admission itself. */
  get limitRefusals(): Refusals {
    return this.#admission?.refused ?? noRefusals;
  }

  onError(listener: ErrorListener): void {
    this.#errorListeners.add(listener);
  }

  offError(listener: ErrorListener): void {
    this.#errorListeners.delete(listener);
  }

  reportError(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    // With no listener, say it loudly but keep serving the other channels.
    if (this.#errorListeners.size === 0) {
      console.error('express-channel:', err);
      return;
    }
    for (const listener of this.#errorListeners) callErrorListener(listener, err);
  }

  stats(): ChannelStats {
    const open: Record<TransportName, number> = { websocket: 0, sse: 0, http: 0, poll: 0 };
    for (const channel of this.open) open[channel.transport]++;
    let queued = 0;
    for (const channel of this.sessions) queued += channel.session?.queued() ?? 0;
    const refused = { ...(this.#admission?.refused ?? noRefusals) };
    const stats: ChannelStats = { open, sent: this.counters.sent, dropped: this.counters.dropped, received: this.counters.received, queued, refused, handshakesWaiting: this.pacer?.waiting ?? 0 };
    const adapter = this.options.adapter?.stats?.();
    if (adapter !== undefined) stats.adapter = adapter;
    return stats;
  }

  /** Closes every channel with 'shutdown' and resolves once they are all gone. */
  #releaseLater(id: string): void {
    const timer: NodeJS.Timeout = setTimeout(() => {
      this.#pendingReleases.delete(timer);
      this.directory?.released(id);
    }, closedPollGrace);
    timer.unref();
    this.#pendingReleases.set(timer, id);
  }

  /**
   * Refuses new channels and lets the open ones go spread evenly over `within` ms. Plain
   * channels close with 'shutdown'. With a directory that moves sessions (the Redis adapter),
   * a session only loses its connection: its client comes back to another process, which
   * takes the session over; those not taken over within `within` more (5 s at least) close
   * with 'shutdown'.
   */
  async drain(within: number): Promise<void> {
    this.closing = true;
    const drained = this.#whenDrained();
    const handOver = canTakeOver(this.directory);
    await spread([...this.open], within, (channel) => guarded(channel, handOver ? letGo : shutDown));
    if (handOver) await waitAtMost(drained, Math.max(within, minHandOverWait));
    for (const channel of [...this.open]) guarded(channel, shutDown);
    await drained;
  }

  #whenDrained(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.#drained;
      this.#drained = () => {
        previous?.();
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const drained = this.#whenDrained(); // chained: a drain() in progress resolves too
    for (const channel of [...this.open]) guarded(channel, shutDown);
    await drained;
    // Sessions buried for their last poll let go of their directory entries now.
    for (const [timer, id] of this.#pendingReleases) {
      clearTimeout(timer);
      this.directory?.released(id);
    }
    this.#pendingReleases.clear();
    await this.options.adapter?.close?.();
    // Let the close handlers (scheduled on nextTick) run before resolving.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

// What the hub does to every channel in turn (a heartbeat, the shutdown): one channel that
// fails closes alone, and the others still get their turn; live.close() never rejects.
function guarded(channel: ChannelCore, action: (channel: ChannelCore) => void): void {
  try {
    action(channel);
  } catch (error) {
    channel.failed(error);
  }
}

// How long a draining process waits at least for its sessions to be taken over elsewhere.
const minHandOverWait = 5000;

// A draining process lets a session's connection go: its client resumes on another process.
function letGo(channel: ChannelCore): void {
  if (channel.session === undefined) channel.close('shutdown');
  else channel.dropConnection();
}

function beat(channel: ChannelCore): void {
  channel.heartbeat();
}

function shutDown(channel: ChannelCore): void {
  channel.close('shutdown');
}

// reportError runs inside timers and socket events: a listener that throws there would take
// the process down. It cannot be reported to itself, so it is said on stderr.
function callErrorListener(listener: ErrorListener, error: Error): void {
  try {
    listener(error);
  } catch (listenerError) {
    console.error('express-channel: a live.on("error") listener threw:', listenerError, 'while handling:', error);
  }
}

function sweepHeartbeats(hub: ChannelHub): void {
  hub.sweep();
}

// The hub behind each Live, for the library's own top layers (express-channel/metrics) only:
// the Live function itself shows no member beyond its documented ones. Kept here, not in
// channels.ts, so that the main entry's declarations never name ChannelHub (whose own
// declarations import 'ws', which users need not have types for).
const hubs = new WeakMap<object, ChannelHub>();

/** Remembers that `live` is the face of `hub`. */
export function registerHub(live: object, hub: ChannelHub): void {
  hubs.set(live, hub);
}

/** The hub of a `live` made by this copy of the library, else undefined. */
export function hubOf(live: unknown): ChannelHub | undefined {
  return typeof live === 'function' ? hubs.get(live) : undefined;
}
