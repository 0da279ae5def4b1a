// The client's watchdogs (issue 19, item 2): a poll held longer than the server's pollTimeout
// (from its answers) plus a margin, or a session WebSocket that heard neither a message nor
// the server's beat for 2.5 heartbeats (from the hello), is a connection that died silently —
// here a TCP proxy that stops forwarding without closing — and the session resumes on a new one.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { connect, type WebSocketConstructor } from '../../lib/client/node.js';
import { nextEvent, quick, startServer, until } from './support.js';

/** A TCP proxy to `port` whose `stall()` silences the connections it has (new ones still pass). */
async function stallingProxy(t: TestContext, port: number): Promise<{ url: string; stall(): void }> {
  const live = new Set<{ client: Socket; upstream: Socket }>();
  const server = createServer((client) => {
    const upstream = connectTcp(port, '127.0.0.1');
    const pair = { client, upstream };
    live.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = (): void => {
      live.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const stalled: Socket[] = [];
  t.after(() => {
    for (const socket of stalled) socket.destroy();
    for (const { client, upstream } of live) {
      client.destroy();
      upstream.destroy();
    }
    server.close();
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`,
    stall() {
      // Nothing more goes either way, and nothing is closed: a NAT that forgot the flow.
      for (const pair of live) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
        stalled.push(pair.client, pair.upstream);
      }
      live.clear();
    },
  };
}

describe('the polling watchdog', () => {
  it('gives up a poll held past pollTimeout plus its margin, resumes on a new connection, and loses nothing', async (t) => {
    const server = await startServer(t, { pollTimeout: 300, heartbeat: 0 });
    const proxy = await stallingProxy(t, Number(new URL(server.url).port));
    // A silently dead path kills the idle pooled connections too: the resume that follows may
    // wait out one open timeout on one of them before a new connection carries it.
    const conn = connect(proxy.url, { ...quick, transports: ['poll'], openTimeout: 1500 });
    t.after(() => conn.close());
    const got: string[] = [];
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    await nextEvent(conn, 'open');
    const ch = await server.channel();
    ch.send('before');
    await until(conn, 'message', () => got.length === 1, 5000);
    const reopened = nextEvent(conn, 'open', 8000);
    const stalledAt = Date.now();
    proxy.stall();
    ch.send('while stalled');
    const open = await reopened;
    const after = Date.now() - stalledAt;
    assert.equal(open.resumed, true);
    // pollTimeout 300 + a margin of 2 s, then the resume (at most one open timeout, 1.5 s, on a
    // dead pooled connection). Without the watchdog the held poll would wait for undici's own
    // timeouts (measured: 6 s here; minutes in general).
    assert.ok(after >= 2000 && after < 2300 + 1500 + 1000, `resumed after ${after} ms`);
    await until(conn, 'message', () => got.length === 2, 5000);
    assert.deepEqual(got, ['before', 'while stalled']);
  });
});

/** A `ws` WebSocket for the client that counts the server's beats (frames the application never sees). */
function beatCounter(): { WebSocket: WebSocketConstructor; next(count: number, ms: number): Promise<void> } {
  const waiters = new Set<() => void>();
  let beats = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      this.on('message', (data, isBinary) => {
        if (isBinary || String(data) !== 'c{}') return;
        beats++;
        for (const waiter of waiters) waiter();
      });
    }
  }
  return {
    WebSocket: Counting as unknown as WebSocketConstructor,
    next: (count, ms) =>
      new Promise((resolve, reject) => {
        const target = beats + count;
        const timer = setTimeout(() => reject(new Error(`${beats} beats, not ${target}, within ${ms} ms`)), ms);
        const check = (): void => {
          if (beats < target) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
      }),
  };
}

describe('the WebSocket watchdog', () => {
  it('gives up a WebSocket silent for 2.5 heartbeats, resumes within three, and loses nothing', async (t) => {
    const heartbeat = 1000; // the client is told it in the hello: it is configured nowhere else
    const server = await startServer(t, { heartbeat });
    const proxy = await stallingProxy(t, Number(new URL(server.url).port));
    const beats = beatCounter();
    const conn = connect(proxy.url, { ...quick, transports: ['websocket'], WebSocket: beats.WebSocket });
    t.after(() => conn.close());
    const got: string[] = [];
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    await nextEvent(conn, 'open');
    const ch = await server.channel();
    ch.send('before');
    await until(conn, 'message', () => got.length === 1, 5000);
    // Beats keep a quiet connection open: three of them (more than 2.5 heartbeats) without a message.
    const errors: string[] = [];
    conn.addEventListener('error', (event) => errors.push(event.error.message));
    await beats.next(3, 5000);
    assert.deepEqual(errors, []);
    const reopened = nextEvent(conn, 'open', 5000);
    const stalledAt = Date.now();
    proxy.stall();
    ch.send('while stalled');
    const open = await reopened;
    const after = Date.now() - stalledAt;
    assert.equal(open.resumed, true);
    assert.deepEqual(errors, [`WebSocket: no data for ${heartbeat * 2.5} ms`]);
    assert.ok(after < heartbeat * 3, `resumed after ${after} ms, within three heartbeats (${heartbeat * 3} ms)`);
    await until(conn, 'message', () => got.length === 2, 5000);
    assert.deepEqual(got, ['before', 'while stalled']);
  });
});
