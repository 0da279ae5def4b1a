// Bad input and odd timing from clients: each case once crashed the server, leaked a session
// or broke a promise of the docs (found in review; each test fails without its fix).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { channels, type Channel, type ChannelsOptions, type CloseReason } from '../lib/index.js';
import { deferred, serve, withTimeout } from './support/harness.js';
import { SessionPeer } from './support/session-peer.js';

const upgradeHeaders = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

async function app(t: TestContext, options: ChannelsOptions, routes: (app: express.Express) => void, before?: express.RequestHandler) {
  const live = channels(options);
  const server = express();
  if (before !== undefined) server.use(before);
  server.use(live);
  routes(server);
  const errors: Error[] = [];
  live.on('error', (e) => errors.push(e));
  return { live, errors, ...(await serve(t, server, live)) };
}

function rawConnect(t: TestContext, port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  return once(socket, 'connect').then(() => socket);
}

describe('robustness', () => {
  it('survives a WebSocket upgrade pipelined behind a request on the same connection', async (t) => {
    const s = await app(t, {}, (a) => a.get('/ws', (req) => req.channel!.onReceive(() => undefined)));
    const socket = await rawConnect(t, s.port);
    socket.write(`GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nGET /ws HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`);
    await once(socket, 'close');
    // Still serving:
    const ws = new WebSocket(`${s.wsUrl}/ws`);
    await once(ws, 'open');
    ws.close();
  });

  it('survives a bad frame on a refused session upgrade', async (t) => {
    const s = await app(t, {}, (a) => a.get('/live', (req) => req.channel!.onReceive(() => undefined)));
    const socket = await rawConnect(t, s.port);
    socket.write(`GET /live?ecs=AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n${upgradeHeaders}\r\n`);
    const [head] = (await once(socket, 'data')) as [Buffer];
    assert.match(head.toString('latin1'), /^HTTP\/1\.1 101 /);
    socket.write(Buffer.from([0x81, 0x01, 0x41])); // unmasked: a protocol error
    await once(socket, 'close');
    const ws = new WebSocket(`${s.wsUrl}/live?ecs=new`);
    await once(ws, 'message');
    ws.close();
  });

  it('leaves a session as it was when a resume is refused (a forbidden Origin): it still closes with client-away', async (t) => {
    const closed = deferred<CloseReason>();
    const s = await app(t, { sessionTimeout: 150, allowedOrigins: ['http://good.example'] }, (a) =>
      a.get('/live', (req) => req.channel!.onClose((r) => closed.resolve(r))),
    );
    const peer = new SessionPeer(s.url, '/live');
    await peer.connect('sse');
    peer.cut();
    await peer.ended();
    const ws = new WebSocket(`${s.wsUrl}${peer.query()}`, { origin: 'http://evil.example' });
    ws.on('error', () => undefined);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 403);
    assert.equal(await withTimeout(closed.promise, 2000, 'client-away'), 'client-away');
    assert.equal(s.live.channels.size, 0);
  });

  it('keeps an unclaimed channel usable after a send that threw (header injection)', async (t) => {
    const outcome = deferred<string>();
    const s = await app(t, {}, (a) =>
      a.get('/x', (req) => {
        const ch = req.channel!;
        assert.throws(() => ch.send({ headers: { 'x-a': 'a\r\nb' }, body: 'x' }), { code: 'ERR_INVALID_CHAR' });
        outcome.resolve(String(ch.send('fine')));
      }),
    );
    const res = await fetch(`${s.url}/x`);
    assert.equal(await res.text(), 'fine');
    assert.equal(await outcome.promise, 'true');
  });

  it('closes channels claimed after their client left (the route awaited first)', async (t) => {
    const reasons: Record<string, CloseReason> = {};
    const done = deferred();
    const left = deferred();
    const reached = deferred();
    let routesReached = 0;
    const socketsClosed: Promise<unknown>[] = [];
    const s = await app(t, {}, (a) =>
      a.get('/slow', async (req) => {
        socketsClosed.push(once(req.socket, 'close'));
        if (++routesReached === 2) reached.resolve();
        await left.promise;
        const ch = req.channel!;
        ch.onClose((r) => {
          reasons[ch.transport] = r;
          if (Object.keys(reasons).length === 2) done.resolve();
        });
      }),
    );
    const controllers = [new AbortController(), new AbortController()];
    const requests = [
      fetch(`${s.url}/slow`, { signal: controllers[0]!.signal, headers: { accept: 'text/event-stream' } }).catch(() => undefined),
      fetch(`${s.url}/slow`, { signal: controllers[1]!.signal }).catch(() => undefined),
    ];
    // Wait until both requests reached the route, then leave before the route claims.
    await withTimeout(reached.promise, 2000, 'both requests in the route');
    controllers.forEach((c) => c.abort());
    await Promise.all(requests);
    await withTimeout(Promise.all(socketsClosed), 2000, 'the server to see both clients leave');
    left.resolve();
    await withTimeout(done.promise, 2000, 'both onClose');
    assert.deepEqual(reasons, { sse: 'client-close', http: 'client-close' });
    assert.equal(s.live.channels.size, 0);
  });

  it('answers 503 busy to POSTs while maxHeldMessages wait for a handler that does not listen', async (t) => {
    const s = await app(t, { maxHeldMessages: 2 }, (a) => a.get('/live', (req) => req.channel!.onClose(() => undefined)));
    const peer = new SessionPeer(s.url, '/live');
    await peer.connect('sse');
    t.after(() => peer.cut());
    const post = (ecm: number, body: string) => fetch(`${s.url}/live?ecs=${peer.sessionId}&ecm=${ecm}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...peer.headers() } });
    assert.deepEqual(await (await post(1, '["a","b","c"]')).json(), { received: 2 });
    const busy = await post(3, '["c"]');
    assert.equal(busy.status, 503);
    assert.deepEqual(await busy.json(), { error: 'busy', message: 'The application is not reading messages yet: send them again later.', received: 2 });
  });

  it('answers a POST that arrives after its session closed with 404 unknown-session', async (t) => {
    const channel = deferred<Channel>();
    const postReading = deferred();
    const s = await app(
      t,
      {},
      (a) =>
        a.get('/live', (req) => {
          req.channel!.onReceive(() => undefined);
          channel.resolve(req.channel!);
        }),
      (req, _res, next) => {
        next(); // live handles the POST synchronously: it is reading the body after this
        if (req.method === 'POST') postReading.resolve();
      },
    );
    const peer = new SessionPeer(s.url, '/live');
    await peer.connect('sse');
    const socket = await rawConnect(t, s.port);
    const body = '["a","b"]';
    socket.write(`POST /live?ecs=${peer.sessionId}&ecm=1 HTTP/1.1\r\nHost: x\r\nEC-Secret: ${peer.secret}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n["a",`);
    // The session closes while the body is still on its way.
    await postReading.promise;
    (await channel.promise).close();
    socket.write('"b"]');
    const [answer] = (await once(socket, 'data')) as [Buffer];
    assert.match(answer.toString(), /^HTTP\/1\.1 404 /);
    assert.match(answer.toString(), /"error":"unknown-session"/);
  });

  it('gives a plain EventSource whose session is gone (a server restart) a new session instead of a fatal 404', async (t) => {
    let routeRuns = 0;
    const s = await app(t, {}, (a) =>
      a.get('/live', (req) => {
        routeRuns++;
        req.channel!.send(`run ${routeRuns}`);
      }),
    );
    const source = new EventSource(`${s.url}/live?ecs=new`, {
      // The browser-like reconnect, with the Last-Event-ID of a session this server never had.
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'last-event-id': 'AAAAAAAAAAAAAAAAAAAAAA.5' } }),
    });
    t.after(() => source.close());
    const [event] = (await once(source, 'message')) as [MessageEvent<string>];
    assert.equal(event.data, 'run 1');
    assert.equal(routeRuns, 1);
  });

  it('resolves live.close() only after every onClose ran, also while messages wait for a handler', async (t) => {
    let ran = false;
    const claimed = deferred();
    const s = await app(t, {}, (a) =>
      a.get('/ws', (req) => {
        req.channel!.onClose(() => (ran = true));
        claimed.resolve();
      }),
    );
    const ws = new WebSocket(`${s.wsUrl}/ws`);
    await once(ws, 'open');
    ws.send('held: nobody listens');
    await withTimeout(claimed.promise, 2000, 'the route');
    // The message reached the channel and waits there for a handler.
    await withTimeout(
      (async () => {
        while (s.live.stats().received < 1) await new Promise((r) => setImmediate(r));
      })(),
      2000,
      'the held message',
    );
    await s.live.close();
    assert.equal(ran, true);
  });
});
