// The fuzzer's server side and its waiting rules: a real Express app with `channels()` on
// 127.0.0.1 port 0 whose route hands every channel to the driver by name, a record of the
// requests each client has in flight (so a cut can destroy exactly its connection), and
// bounded waits that fail at once, naming the step, when the process saw a fault.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { channels, type Channel, type ChannelGroup, type Live } from '../../lib/index.js';
import { chatGroup, type ClientSpec, type Transport } from './model.js';

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

/** Routes the process's uncaught exceptions and unhandled rejections into `faults` until the returned function runs. */
export function recordProcessFaults(faults: () => Faults | undefined): () => void {
  const onException = (error: unknown): void => faults()?.record('uncaughtException', error);
  const onRejection = (error: unknown): void => faults()?.record('unhandledRejection', error);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}

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
 * Starts the server. The route claims `/live/NAME` for client NAME: adds the channel to its
 * `joins`, sends its welcome, records what it receives and broadcasts a chat message to the
 * group it names, except to its sender (as a chat room does).
 */
export async function startServer(specs: ReadonlyMap<string, ClientSpec>, groupCount: number, faults: Faults, pulse: Pulse): Promise<FuzzServer> {
  // heartbeat 0: no timers; the session and poll timeouts and the buffer lie past any scenario.
  const live = channels({ heartbeat: 0, sessionTimeout: 120_000, pollTimeout: 120_000, sessionBuffer: { messages: 1_000_000, bytes: 1 << 30 } });
  live.on('error', (error) => faults.record('live error', error));
  const groups = Array.from({ length: groupCount }, (_, i) => live.group(`g${i}`));
  const state = { channels: new Map<string, Channel>(), received: new Map<string, string[]>(), closeReasons: new Map<string, string>() };
  const active = new Map<string, Set<Active>>();
  const seen = new Map<string, number>();
  const app = express();
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const name = /^\/live\/([A-Z])(?:\?|$)/.exec(req.url ?? '')?.[1];
    if (name !== undefined) track(name, req, res);
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
      await faults.within(live.close(), () => 'live.close() at the end of the scenario');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
