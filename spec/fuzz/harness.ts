// The fuzzer's server side and its waiting rules: a real Express app with `channels()` on
// 127.0.0.1 port 0 whose route hands every channel to the driver by name, a record of the
// requests each client has in flight (so a cut can destroy exactly its connection), and
// bounded waits that fail at once, naming the step, when the process saw a fault.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { channels, type Channel, type ChannelGroup, type Live } from '../../lib/index.js';
import { chatGroup, nameOf, type Scenario, type Transport } from './model.js';

/** How long one wait for something that should happen at once may take (a loaded CI too). */
export const waitMs = Number(process.env['FUZZ_WAIT_MS'] ?? 5000);

/** Wakes whoever waits for a condition; every observable change calls `notify`. */
export class Pulse {
  readonly #waiters = new Set<() => void>();

  notify = (): void => {
    for (const check of [...this.#waiters]) check();
  };

  until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
      check();
    });
  }
}

/**
 * What went wrong in the process: uncaught exceptions, unhandled rejections, `live` errors.
 * Every bounded wait also ends as soon as one is recorded, so a crash fails the scenario at
 * once instead of after a timeout.
 */
export class Faults {
  readonly list: string[] = [];
  readonly #listeners = new Set<(fault: string) => void>();

  record = (kind: string, error: unknown): void => {
    const fault = `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    this.list.push(fault);
    for (const listener of this.#listeners) listener(fault);
  };

  /** Resolves `promise`, or rejects after `waitMs` or at the first fault, naming `what`. */
  async within<T>(promise: Promise<T>, what: () => string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let listener: ((fault: string) => void) | undefined;
    const failure = new Promise<never>((_, reject) => {
      if (this.list.length > 0) reject(new Error(`${what()}: the process saw ${this.list[0]}`));
      listener = (fault) => reject(new Error(`${what()}: the process saw ${fault}`));
      this.#listeners.add(listener);
      timer = setTimeout(() => reject(new Error(`${what()}: timed out after ${waitMs} ms`)), waitMs);
    });
    try {
      return await Promise.race([promise, failure]);
    } finally {
      clearTimeout(timer);
      if (listener !== undefined) this.#listeners.delete(listener);
    }
  }
}

/**
 * Routes the process's uncaught exceptions and unhandled rejections into `faults()` until the
 * returned function runs. The test runner's own listeners are set aside meanwhile: they would
 * end the running test at the first fault, and fast-check, still shrinking behind it, could
 * no longer report the scenario that caused it. The fault fails that scenario instead.
 */
export function recordProcessFaults(faults: () => Faults): () => void {
  // Typed as a plain emitter: process's overloads cannot take the event name as a variable.
  const emitter = process as unknown as { listeners(event: string): Listener[]; on(event: string, l: Listener): void; off(event: string, l: Listener): void; removeAllListeners(event: string): void };
  const saved = processFaults.map((event) => {
    const theirs = emitter.listeners(event);
    const ours: Listener = (error) => faults().record(event, error);
    emitter.removeAllListeners(event);
    emitter.on(event, ours);
    return { event, theirs, ours };
  });
  return () => {
    for (const { event, theirs, ours } of saved) {
      emitter.off(event, ours);
      for (const listener of theirs) emitter.on(event, listener);
    }
  };
}

type Listener = (error: unknown) => void;
const processFaults = ['uncaughtException', 'unhandledRejection'];

type RequestKind = Transport | 'post';

interface Active {
  socket: Socket;
  kind: RequestKind;
}

export interface FuzzServer {
  live: Live;
  groups: ChannelGroup[];
  /** The channel the route claimed for each client name. */
  channels: Map<string, Channel>;
  /** What each channel's onReceive got, by client name. */
  received: Map<string, string[]>;
  /** Each channel's close reason, by client name. */
  closeReasons: Map<string, string>;
  url(name: string): string;
  /** Requests of `name` the server is answering now, by kind (a held poll, an open stream). */
  active(name: string, kind: RequestKind): number;
  /** Requests of `name` of this kind seen so far. */
  seen(name: string, kind: RequestKind): number;
  /** Clients whose requests on this transport are answered 403, by name. */
  refused: Map<string, Transport>;
  /** Destroys the sockets of `name`'s open WebSocket, event stream or held poll; returns how many. */
  cut(name: string): number;
  close(): Promise<void>;
}

/** What a request to `/live/NAME` is, from its headers (as the middleware will decide). */
function kindOf(req: IncomingMessage): RequestKind {
  if (req.headers.upgrade !== undefined) return 'websocket';
  if (req.method !== 'GET') return 'post';
  if (/text\/event-stream/.test(req.headers.accept ?? '')) return 'sse';
  return /[?&]ect=poll/.test(req.url ?? '') ? 'poll' : 'post';
}

/**
 * Whether `req` uses the `refused` transport. Polling opens with an empty POST (no `ecm`)
 * before its first GET: refused too, or the client would take polling as working.
 */
function isRefused(refused: Transport | undefined, req: IncomingMessage): boolean {
  if (refused === undefined) return false;
  const kind = kindOf(req);
  return kind === refused || (refused === 'poll' && req.method === 'POST' && !/[?&]ecm=/.test(req.url ?? ''));
}

/**
 * Starts the server. The route claims `/live/NAME` for client NAME: adds the channel to its
 * `joins`, sends its welcome, records what it receives and broadcasts a chat message to the
 * group it names, except to its sender (as a chat room does).
 */
export async function startServer(scenario: Scenario, faults: Faults, pulse: Pulse): Promise<FuzzServer> {
  const specs = new Map(scenario.clients.map((spec, i) => [nameOf(i), spec]));
  // heartbeat 0: no timers; the session and poll timeouts lie past any scenario, and so does
  // the buffer unless the scenario bounds it. No socket buffer is ever too full either: a
  // dropped connection would be a cut the scenario did not ask for.
  const sessionBuffer = scenario.buffer ?? { messages: 1_000_000, bytes: 1 << 30 };
  const options = { heartbeat: 0, sessionTimeout: 120_000, pollTimeout: 120_000, maxBufferedBytes: 1 << 30, sessionBuffer };
  const live = channels(options);
  const groupCount = scenario.groups;
  live.on('error', (error) => faults.record('live error', error));
  const groups = Array.from({ length: groupCount }, (_, i) => live.group(`g${i}`));
  const state = { channels: new Map<string, Channel>(), received: new Map<string, string[]>(), closeReasons: new Map<string, string>() };
  const active = new Map<string, Set<Active>>();
  const seen = new Map<string, number>();
  const refused = new Map<string, Transport>();
  const app = express();
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const name = /^\/live\/([A-Z])(?:\?|$)/.exec(req.url ?? '')?.[1];
    if (name === undefined) return next();
    if (isRefused(refused.get(name), req)) return void res.writeHead(403).end();
    track(name, req, res);
    next();
  });
  app.use(live);
  app.get('/live/:name', (req) => {
    const name = String(req.params['name']);
    const spec = specs.get(name);
    const ch = req.channel!;
    state.channels.set(name, ch);
    for (const group of spec?.joins ?? []) groups[group % groupCount]?.add(ch);
    if (spec?.welcome === true) ch.send(`welcome:${name}`);
    const received: string[] = [];
    state.received.set(name, received);
    ch.onReceive((message) => {
      const text = String(message);
      received.push(text);
      const group = chatGroup(text);
      if (group !== undefined) groups[group % groupCount]?.broadcast(text, { except: ch });
      pulse.notify();
    });
    ch.onClose((reason) => {
      state.closeReasons.set(name, reason);
      pulse.notify();
    });
  });

  function track(name: string, req: IncomingMessage, res: ServerResponse): void {
    const kind = kindOf(req);
    const entry: Active = { socket: req.socket, kind };
    const set = active.get(name) ?? new Set<Active>();
    active.set(name, set);
    set.add(entry);
    seen.set(`${name} ${kind}`, (seen.get(`${name} ${kind}`) ?? 0) + 1);
    // An upgrade's response is detached from its socket once the handshake is done: the
    // WebSocket lives as long as the socket. Any other request ends with its response.
    const done = (): void => {
      if (set.delete(entry)) pulse.notify();
    };
    if (kind === 'websocket') req.socket.once('close', done);
    else res.once('close', done);
    // The middleware after this one answers synchronously: wake waiters once it has.
    setImmediate(pulse.notify);
  }

  // A middleware or the route that throws is a server fault too (Express would answer 500).
  app.use((error: unknown, _req: IncomingMessage, res: ServerResponse, _next: () => void) => {
    faults.record('request error', error);
    res.statusCode = 500;
    res.end();
  });
  const server = createServer(app);
  live.attach(server);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const count = (name: string, kind: RequestKind): number => [...(active.get(name) ?? [])].filter((a) => a.kind === kind).length;
  return {
    live,
    groups,
    refused,
    ...state,
    url: (name) => `http://127.0.0.1:${port}/live/${name}`,
    active: count,
    seen: (name, kind) => seen.get(`${name} ${kind}`) ?? 0,
    cut(name) {
      const main = [...(active.get(name) ?? [])].filter((a) => a.kind !== 'post');
      for (const { socket } of main) socket.destroy();
      return main.length;
    },
    async close() {
      // Bounded by a plain timer, not by the faults: a server a fault left wedged must still
      // let go of its port and sockets (and the wait is short then, to keep shrinking quick).
      let timer: NodeJS.Timeout | undefined;
      const ms = faults.list.length > 0 ? 200 : waitMs;
      const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
      const closed = await Promise.race([live.close().then(() => true), timeout]);
      clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!closed && faults.list.length === 0) faults.record('live.close()', new Error(`did not resolve within ${ms} ms`));
    },
  };
}
