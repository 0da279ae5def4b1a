import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { channels, type Channel, type ChannelsOptions, type CloseReason, type Message } from '../../lib/index.js';
import { deferred, rawExchange, serve, withTimeout } from '../support/harness.js';
import { SessionPeer } from '../support/session-peer.js';

async function app(t: TestContext, options: ChannelsOptions = {}, before?: express.RequestHandler) {
  const live = channels(options);
  const server = express();
  if (before) server.use(before);
  server.use(live);
  const received: Message[] = [];
  const closed = deferred<CloseReason>();
  const channel = deferred<Channel>();
  let arrivals: Array<() => void> = [];
  server.get('/live', (req) => {
    const ch = req.channel!;
    ch.onReceive((m) => {
      received.push(m);
      arrivals = arrivals.filter((a) => (a(), false));
    });
    ch.onClose((r) => closed.resolve(r));
    channel.resolve(ch);
  });
  const served = await serve(t, server, live);
  const peer = new SessionPeer(served.url, '/live');
  await peer.connect('sse');
  const post = (query: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${served.url}/live?ecs=${peer.sessionId}&${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...peer.headers(), ...headers } });
  t.after(() => peer.cut());
  // Resolves once `count` messages reached onReceive (re-checked on every arrival).
  const receivedCount = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (received.length >= count ? resolve() : arrivals.push(check));
      check();
    });
  return { live, served, peer, post, received, receivedCount, closed: closed.promise, channel: await channel.promise };
}

describe('session requests', () => {
  it('delivers POSTed messages to onReceive in order, text and binary', async (t) => {
    const { post, received } = await app(t);
    const res = await post('ecm=1', JSON.stringify(['one', { base64: 'AAEC' }, 'three']));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: 3 });
    assert.deepEqual(received, ['one', Buffer.from([0, 1, 2]), 'three']);
  });

  it('delivers a retried POST exactly once', async (t) => {
    const { post, received } = await app(t);
    await post('ecm=1', '["a","b"]');
    const retry = await post('ecm=1', '["a","b","c"]');
    assert.deepEqual(await retry.json(), { received: 3 });
    const again = await post('ecm=2', '["b","c"]');
    assert.deepEqual(await again.json(), { received: 3 });
    assert.deepEqual(received, ['a', 'b', 'c']);
  });

  it('skips a WebSocket frame that a POST still in flight delivered first, when the client switches transport', async (t) => {
    const { served, peer, post, received, receivedCount } = await app(t);
    await post('ecm=1', '["a","b"]');
    peer.cut();
    await peer.ended();
    const ws = new WebSocket(`${served.wsUrl}${peer.query()}`, peer.protocols());
    t.after(() => ws.terminate());
    const [hello] = (await once(ws, 'message')) as [Buffer];
    assert.equal(JSON.parse(hello.toString().slice(1)).received, 2);
    // The POST that was on its way when the client switched delivers message 3 first…
    assert.deepEqual(await (await post('ecm=3', '["c"]')).json(), { received: 3 });
    // …then the client resends everything above the hello's `received` on the WebSocket.
    ws.send('mc');
    ws.send('md');
    await withTimeout(receivedCount(4), 2000, 'message d');
    assert.deepEqual(received, ['a', 'b', 'c', 'd']);
  });

  it('refuses a POST that skips a message with 409 and the count received', async (t) => {
    const { post, received } = await app(t);
    const res = await post('ecm=3', '["c"]');
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), { error: 'out-of-order', message: 'A message is missing before this batch: resend from received + 1.', received: 0 });
    assert.deepEqual(received, []);
  });

  it('answers a body larger than maxPayload with 413 and delivers nothing', async (t) => {
    const { post, received } = await app(t, { maxPayload: 100 });
    const res = await post('ecm=1', JSON.stringify(['x'.repeat(200)]));
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'payload-too-large');
    assert.deepEqual(received, []);
  });

  it('answers malformed bodies with 400 and a reason', async (t) => {
    const { post } = await app(t);
    for (const [body, message] of [
      ['not json', 'the body must be a JSON array of messages'],
      ['{"a":1}', 'the body must be a JSON array of messages'],
      ['[1]', 'each message must be a string or {"base64": "..."}'],
    ] as const) {
      const res = await post('ecm=1', body);
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { error: 'bad-request', message });
    }
  });

  it('reads POSTs that express.json() already parsed', async (t) => {
    const { post, received } = await app(t, {}, express.json());
    const res = await post('ecm=1', '["parsed"]');
    assert.deepEqual(await res.json(), { received: 1 });
    assert.deepEqual(received, ['parsed']);
  });

  it('refuses a POST from an Origin not in allowedOrigins with 403', async (t) => {
    const { post, received } = await app(t, { allowedOrigins: ['https://app.example'] });
    const res = await post('ecm=1', '["x"]', { origin: 'https://evil.example' });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'origin-not-allowed');
    const ok = await post('ecm=1', '["y"]', { origin: 'https://app.example' });
    assert.equal(ok.status, 200);
    assert.deepEqual(received, ['y']);
  });

  it('refuses a WebSocket upgrade from an Origin not in allowedOrigins with 403', async (t) => {
    const live = channels({ allowedOrigins: ['https://app.example'] });
    const server = express();
    server.use(live);
    server.get('/ws', (req) => req.channel!.send('hi'));
    const served = await serve(t, server, live);
    const ws = new WebSocket(`${served.wsUrl}/ws`, { origin: 'https://evil.example' });
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 403);
    const good = new WebSocket(`${served.wsUrl}/ws`, { origin: 'https://app.example' });
    const [data] = (await once(good, 'message')) as [Buffer];
    assert.equal(data.toString(), 'hi');
    good.close();
  });

  it('lets authorizeResume refuse a resume: 403 JSON, or close code 4403 on WebSocket', async (t) => {
    let allow = true;
    const { served, peer } = await app(t, { authorizeResume: (req) => allow && req.headers['x-user'] !== 'mallory' });
    peer.cut();
    const refused = await fetch(`${served.url}${peer.query('&ect=poll')}`, { headers: { 'x-user': 'mallory', ...peer.headers() } });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: string }).error, 'resume-refused');
    allow = false;
    const ws = new WebSocket(`${served.wsUrl}${peer.query()}`, peer.protocols());
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 4403);
    assert.equal(reason.toString(), 'resume-refused');
  });

  it('answers a refused resume in a WebSocket version other than 13 with 400, not a 101 and a close', async (t) => {
    const { served } = await app(t);
    const unknown = 'A'.repeat(22);
    const answer = await rawExchange(served.port, `GET /live?ecs=${unknown}&eca=0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(answer, /\r\nSec-WebSocket-Version: 13\r\n/);
    // The same resume in version 13 completes the handshake and is closed with 4404.
    const ws = new WebSocket(`${served.wsUrl}/live?ecs=${unknown}&eca=0`);
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 4404);
  });

  it('runs the middleware mounted before live on every resume (auth applies)', async (t) => {
    let calls = 0;
    const requireToken: express.RequestHandler = (req, res, next) => {
      calls++;
      if (req.headers['x-token'] === 'secret' || req.query['ecs'] === 'new') return next();
      res.status(401).json({ error: 'unauthorized' });
    };
    const { served, peer } = await app(t, {}, requireToken);
    const withoutToken = await fetch(`${served.url}${peer.query('&ect=poll')}`, { headers: peer.headers() });
    assert.equal(withoutToken.status, 401);
    assert.ok(calls >= 2);
  });

  it('closes the session on DELETE with client-close', async (t) => {
    const { served, peer, closed, channel } = await app(t);
    const res = await fetch(`${served.url}/live?ecs=${peer.sessionId}`, { method: 'DELETE', headers: peer.headers() });
    assert.equal(res.status, 204);
    assert.equal(await withTimeout(closed, 2000, 'onClose'), 'client-close');
    assert.equal(channel.isOpen, false);
  });

  it('counts messages waiting for an absent client in stats().queued', async (t) => {
    const { live, peer, channel } = await app(t);
    peer.cut();
    await peer.ended();
    channel.send('1');
    channel.send('2');
    assert.equal(live.stats().queued, 2);
    assert.equal(live.stats().open.sse, 1);
  });

  it('gives every session an id of 128 random bits in base64url', async (t) => {
    const { channel } = await app(t);
    assert.match(channel.id, /^[A-Za-z0-9_-]{22}$/);
  });
});
