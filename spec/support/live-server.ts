// Test fixtures for the registry specs: a real Express app with `live` on port 0, and lean raw
// clients (a WebSocket handshake or an SSE request on a bare TCP socket) for tests that need
// to stop reading or to open thousands of channels cheaply.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import { channels, type ChannelsOptions, type Live } from '../../lib/index.js';

export interface LiveServer {
  live: Live;
  app: Express;
  server: Server;
  port: number;
  /** Server-side sockets, as accepted (the same socket carries a WebSocket after the upgrade). */
  sockets: Set<Socket>;
  url(path: string): string;
  wsUrl(path: string): string;
  /** Closes every channel, then the server, then destroys whatever socket is left. */
  close(): Promise<void>;
}

/** Starts `express()` + `channels(options)` on 127.0.0.1:0; `setup` adds the routes. */
export async function startLiveServer(options: ChannelsOptions, setup: (app: Express, live: Live) => void, before?: RequestHandler): Promise<LiveServer> {
  const live = channels(options);
  const app = express();
  if (before !== undefined) app.use(before);
  app.use(live);
  setup(app, live);
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
  return {
    live,
    app,
    server,
    port,
    sockets,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path) => `ws://127.0.0.1:${port}${path}`,
    async close() {
      await live.close();
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A bare TCP client past its HTTP head: `rest` holds body bytes that came with the head. */
export interface RawClient {
  socket: Socket;
  status: number;
  head: string;
  rest: Buffer;
}

/** Opens a WebSocket on a bare socket: sends the handshake, resolves after the 101 head. */
export function rawWebSocket(port: number, path: string): Promise<RawClient> {
  const request =
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  return rawRequest(port, request);
}

/** Opens an event stream on a bare socket: resolves once the response head arrived. */
export function rawSse(port: number, path: string): Promise<RawClient> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
}

function rawRequest(port: number, request: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      const head = received.subarray(0, end).toString('latin1');
      resolve({ socket, status: Number(head.slice(9, 12)), head, rest: received.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.write(request);
  });
}

/** One server-to-client WebSocket frame (servers never mask). */
export interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Incremental reader of unmasked WebSocket frames. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns the frames they completed. */
  push(chunk: Buffer): Frame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const buf = this.#pending;
      if (buf.length < 2) break;
      let length = buf[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = buf.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(buf.readBigUInt64BE(2));
        offset = 10;
      }
      if (buf.length < offset + length) break;
      frames.push({ opcode: buf[0]! & 0x0f, payload: buf.subarray(offset, offset + length) });
      this.#pending = buf.subarray(offset + length);
    }
    return frames;
  }
}

/**
 * Runs full garbage collections until `done()` is true or `maxCycles` ran out; returns
 * whether `done()` became true. Each cycle first yields a turn of the event loop: a WeakRef
 * target read (`deref()`) or created in the current job is kept alive until that job ends,
 * so collecting in the same job as the check could never free it. After the collection it
 * yields again, because FinalizationRegistry callbacks run as tasks of their own.
 */
export async function collectUntil(done: () => boolean, maxCycles = 20): Promise<boolean> {
  const gc = requireGc();
  for (let cycle = 0; cycle < maxCycles; cycle++) {
    await nextTurn();
    gc();
    await nextTurn();
    await nextTurn();
    if (done()) return true;
  }
  return false;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Heap in use after full collections (and the finalizers they let run). */
export async function settledHeapUsed(): Promise<number> {
  await collectUntil(() => false, 6);
  return process.memoryUsage().heapUsed;
}

/** `globalThis.gc`, which the test runner exposes with `--expose-gc`. */
export function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the specs with node --expose-gc (node scripts/test.mjs does)');
  return gc;
}

/** Collects values (messages, joined channels) and lets a test await the n-th one. */
export class Inbox<T> {
  readonly items: T[] = [];
  #waiters: Array<{ count: number; resolve: (items: T[]) => void }> = [];

  push = (item: T): void => {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.items.length < waiter.count) return true;
      waiter.resolve(this.items);
      return false;
    });
  };

  /** Resolves once `count` items arrived (at once if they already did); rejects after `ms`. */
  untilCount(count: number, ms = WAIT_MS): Promise<T[]> {
    if (this.items.length >= count) return Promise.resolve(this.items);
    return bounded(new Promise((resolve) => this.#waiters.push({ count, resolve })), ms, () => `${count} items (got ${this.items.length})`);
  }
}

/** Counts events without keeping them (for tests that measure the heap), awaitable by count. */
export class Counter {
  count = 0;
  #waiters: Array<{ count: number; resolve: () => void }> = [];

  increment = (): void => {
    this.count++;
    if (this.#waiters.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.count < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Resolves once the count reached `count`; rejects after `ms`. */
  until(count: number, ms = WAIT_MS): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    return bounded(new Promise((resolve) => this.#waiters.push({ count, resolve })), ms, () => `a count of ${count} (got ${this.count})`);
  }
}

/** How long a test waits for something that should happen at once: generous for a loaded CI. */
const WAIT_MS = 10_000;

function bounded<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
