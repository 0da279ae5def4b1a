// The Connection's contract against a real server: fallback, reconnect and resume with
// connections cut while messages flow, send while offline, session gone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ChannelErrorEvent, type TransportName } from '../../lib/client/node.js';
import { withTimeout } from '../support/harness.js';
import { nextEvent, quick, seeded, startServer, until } from './support.js';

const transports: TransportName[] = ['websocket', 'sse', 'poll'];

describe('Connection fallback', () => {
  it('falls back to SSE when a middleware refuses the WebSocket upgrade', async (t) => {
    const srv = await startServer(t);
    srv.refuseWebSocket = true;
    const conn = connect(srv.url, quick);
    t.after(() => conn.close());
    const errors: ChannelErrorEvent[] = [];
    conn.onerror = (event) => errors.push(event);
    const changed = nextEvent(conn, 'transport');
    const opened = await nextEvent(conn, 'open');
    assert.equal(opened.transport, 'sse');
    assert.deepEqual([(await changed).transport, (await changed).previous], ['sse', undefined]);
    assert.deepEqual(errors.map((e) => [e.transport, e.error.code]), [['websocket', 'refused']]);
    assert.deepEqual(srv.requests, ['GET websocket', 'GET sse']);
  });

  it('falls back to polling when WebSocket and SSE are both refused', async (t) => {
    const srv = await startServer(t);
    srv.refuseWebSocket = true;
    srv.refuseSse = true;
    const conn = connect(srv.url, quick);
    t.after(() => conn.close());
    const opened = await nextEvent(conn, 'open');
    assert.equal(opened.transport, 'poll');
    const ch = await srv.channel();
    ch.send('via poll');
    assert.equal((await nextEvent(conn, 'message')).data, 'via poll');
    conn.send('back');
    assert.deepEqual(await srv.receivedCount(ch, 1), ['back']);
  });

  it('skips a WebSocket that never answers after openTimeout', async (t) => {
    const srv = await startServer(t);
    srv.holdWebSocket = true;
    const started = Date.now();
    const conn = connect(srv.url, { ...quick, openTimeout: 200 });
    t.after(() => conn.close());
    const error = await nextEvent(conn, 'error');
    assert.deepEqual([error.transport, error.error.code, error.error.message], ['websocket', 'open-timeout', 'websocket did not open within 200 ms']);
    assert.equal((await nextEvent(conn, 'open')).transport, 'sse');
    assert.ok(Date.now() - started < 1500);
  });

  it('starts a reconnect round with the transport that last worked', async (t) => {
    const srv = await startServer(t);
    srv.refuseWebSocket = true;
    const conn = connect(srv.url, quick);
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    srv.requests.length = 0;
    srv.cut();
    const reopened = await nextEvent(conn, 'open');
    assert.deepEqual([reopened.transport, reopened.resumed], ['sse', true]);
    assert.deepEqual(srv.requests.slice(0, 1), ['GET sse']);
  });

  it('reports every failed round with a reconnecting event and closes after maxAttempts', async (t) => {
    const srv = await startServer(t);
    srv.blocked = true;
    const conn = connect(srv.url, { ...quick, reconnect: { minDelay: 5, maxDelay: 10, maxAttempts: 2 }, random: () => 0.5 });
    const rounds: [number, number][] = [];
    conn.onreconnecting = (event) => rounds.push([event.attempt, event.delay]);
    const closed = await nextEvent(conn, 'close');
    assert.deepEqual(rounds, [[1, 2], [2, 5]]);
    assert.deepEqual([closed.code, closed.reason, closed.sessionGone], [4000, 'reconnect-failed', false]);
    assert.equal(srv.requests.length, 9); // three rounds of three transports
  });
});

for (const transport of transports) {
  describe(`Connection resume over ${transport}`, () => {
    it('delivers every message exactly once and in order, both ways, while the server cuts the connection 15 times', async (t) => {
      const srv = await startServer(t, { pollTimeout: 1000, heartbeat: 0 });
      const random = seeded(transports.indexOf(transport) + 1);
      const conn = connect(srv.url, { ...quick, transports: [transport], random });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      const total = 1500;
      const got: number[] = [];
      let gaps = 0;
      conn.onmessage = (event) => got.push(Number(event.data));
      conn.ongap = () => gaps++;
      let opens = 1;
      conn.onopen = () => opens++;

      let sent = 0;
      let cuts = 0;
      const clientSent: string[] = [];
      const pump = setInterval(() => {
        for (let i = 0; i < 15 && sent < total; i++) ch.send(String(++sent));
        for (let i = 0; i < 5 && conn.queued < 500; i++) {
          clientSent.push(`c${clientSent.length + 1}`);
          conn.send(clientSent.at(-1) as string);
        }
        // A cut between two polls finds only an idle socket, and the client sees nothing: the
        // pump goes on cutting until the client has come back often enough.
        if (random() < 0.15 && (cuts < 15 || opens <= 5)) cuts += srv.cut() > 0 ? 1 : 0;
        if (sent === total && opens > 5) clearInterval(pump);
      }, 4);
      t.after(() => clearInterval(pump));
      await until(conn, 'message', () => got.length >= total, 30_000);
      await until(conn, 'open', () => opens > 5, 30_000);
      clearInterval(pump); // no more client messages from here on
      assert.equal(gaps, 0);
      assert.deepEqual(got, Array.from({ length: total }, (_, i) => i + 1));
      assert.ok(cuts >= 10, `only ${cuts} cuts`);
      assert.ok(opens > 5, `reopened only ${opens - 1} times`);
      // Every client message reached onReceive once, in order.
      const received = await srv.receivedCount(ch, clientSent.length, 10_000);
      assert.deepEqual(received, clientSent);
      assert.equal(srv.channels.length, 1, 'the route ran again');
    });
  });
}

for (const transport of transports) {
  describe(`Connection offline over ${transport}`, () => {
    it('queues sends while disconnected up to maxQueued, throws past it, and delivers the queue once after resume', async (t) => {
      const srv = await startServer(t);
      const conn = connect(srv.url, { ...quick, transports: [transport], maxQueued: 3 });
      t.after(() => conn.close());
      conn.send('before open'); // CONNECTING counts as disconnected
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      assert.deepEqual(await srv.receivedCount(ch, 1), ['before open']);

      srv.blocked = true;
      srv.cut();
      await nextEvent(conn, 'reconnecting');
      assert.equal(conn.readyState, 0);
      conn.send('q1');
      conn.send(new Uint8Array([1]));
      conn.send('q3');
      assert.throws(() => conn.send('q4'), {
        name: 'ClientError',
        code: 'queue-full',
        message: 'send() while disconnected: 3 messages already wait (maxQueued)',
      });
      srv.blocked = false;
      const reopened = await nextEvent(conn, 'open');
      assert.equal(reopened.resumed, true);
      const received = await srv.receivedCount(ch, 4);
      assert.deepEqual(received.map((m) => (typeof m === 'string' ? m : [...m])), ['before open', 'q1', [1], 'q3']);
      // The server acknowledged the queue (acks are no 'message' event: look after each turn).
      await withTimeout(
        (async () => {
          while (conn.queued > 0) await new Promise((resolve) => setImmediate(resolve));
        })(),
        5000,
        'the queued messages to be acknowledged',
      );
      conn.send('after');
      assert.equal((await srv.receivedCount(ch, 5)).length, 5);
    });

    it('reports the messages the server no longer had as a gap, then delivers the rest', async (t) => {
      const srv = await startServer(t, { sessionBuffer: { messages: 5 } });
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      srv.blocked = true;
      srv.cut();
      await nextEvent(conn, 'reconnecting');
      for (let i = 1; i <= 20; i++) ch.send(`m${i}`);
      const log: string[] = [];
      conn.onmessage = (event) => log.push(`${event.seq}:${String(event.data)}`);
      conn.ongap = (event) => log.push(`gap ${event.first}-${event.last}`);
      srv.blocked = false;
      await until(conn, 'message', () => log.length === 6);
      assert.deepEqual(log, ['gap 1-15', '16:m16', '17:m17', '18:m18', '19:m19', '20:m20']);
    });

    it('closes with sessionGone when it comes back after sessionTimeout (unknown-session)', async (t) => {
      const srv = await startServer(t, { sessionTimeout: 100 });
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      const away = new Promise((resolve) => ch.onClose(resolve));
      srv.blocked = true;
      srv.cut();
      assert.equal(await away, 'client-away');
      const errors: string[] = [];
      conn.onerror = (event) => errors.push(event.error.code);
      srv.blocked = false;
      const closed = await nextEvent(conn, 'close');
      assert.deepEqual([closed.code, closed.reason, closed.wasClean, closed.sessionGone], [4404, 'unknown-session', false, true]);
      assert.equal(errors.at(-1), 'unknown-session');
      assert.equal(conn.readyState, 3);
      assert.throws(() => conn.send('x'), { code: 'closed' });
    });
  });
}
