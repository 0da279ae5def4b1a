// Attacks from the outside over real sockets (docs/security.md, "What the tests prove"): each
// test runs a hostile request beside a well-behaved client that must keep being served.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { channels, type ChannelsOptions, type CloseReason, type Message } from '../lib/index.js';
import { connect } from '../lib/client/node.js';
import { nextEvent, quick } from './client/support.js';
import { Inbox, serve, withTimeout, type Served } from './support/harness.js';
import { SessionPeer } from './support/session-peer.js';

const evil = 'http://evil.example';

interface Site extends Served {
  /** Messages the route's channels received, in order. */
  received: Inbox<Message>;
  /** Close reasons of the route's channels, in order. */
  closed: Inbox<CloseReason>;
}

/** An app whose `/live` route greets each channel with `hi` and records what it receives. */
async function site(t: TestContext, options?: ChannelsOptions, before?: express.RequestHandler): Promise<Site> {
  const live = channels(options);
  const app = express();
  if (before !== undefined) app.use(before);
  app.use(live);
  const received = new Inbox<Message>();
  const closed = new Inbox<CloseReason>();
  app.get('/live', (req) => {
    const ch = req.channel!;
    ch.onReceive((m) => received.push(m));
    ch.onClose((r) => closed.push(r));
    if (ch.isWebSocket) ch.send('hi');
  });
  return { ...(await serve(t, app, live)), received, closed };
}

/** Opens a WebSocket to `/live` (or `path`): its first message once open, or the status that refused it. */
async function openWebSocket(t: TestContext, s: Site, origin?: string, path = '/live'): Promise<{ status: number; first?: string; body?: string }> {
  const ws = new WebSocket(`${s.wsUrl}${path}`, origin === undefined ? {} : { origin });
  t.after(() => ws.terminate());
  ws.on('error', () => undefined);
  const answer = new Promise<{ status: number; first?: string; body?: string }>((resolve) => {
    ws.once('message', (data: Buffer) => resolve({ status: 101, first: data.toString() }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  return withTimeout(answer, 2000, `the answer to a WebSocket with Origin ${String(origin)}`);
}

describe('cross-site WebSocket hijacking', () => {
  it('refuses a WebSocket from another site with 403 by default, and serves one from the same host and one without Origin', async (t) => {
    const s = await site(t);
    assert.deepEqual(await openWebSocket(t, s, evil), { status: 403, body: 'Origin not allowed' });
    assert.equal(await s.closed.next(2000, 'the refused channel to close'), 'policy-violation');
    // Origin http://127.0.0.1:PORT against Host 127.0.0.1:PORT: the same host.
    assert.deepEqual(await openWebSocket(t, s, s.url), { status: 101, first: 'hi' });
    assert.deepEqual(await openWebSocket(t, s), { status: 101, first: 'hi' });
    // Same host name, another port: another origin.
    assert.equal((await openWebSocket(t, s, `http://127.0.0.1:${s.port + 1}`)).status, 403);
  });

  it('refuses a cross-site resume of a session over WebSocket with 403, known id or not, and the owner resumes', async (t) => {
    const s = await site(t);
    const peer = new SessionPeer(s.url, '/live');
    t.after(() => peer.cut());
    await peer.connect('sse');
    peer.cut();
    await peer.ended();
    for (const path of [peer.query(), '/live?ecs=AAAAAAAAAAAAAAAAAAAAAA&eca=0']) {
      const { status, body } = await openWebSocket(t, s, evil, path);
      assert.deepEqual([status, (JSON.parse(body ?? '') as { error: unknown }).error], [403, 'origin-not-allowed'], path);
    }
    const hello = await withTimeout(peer.connect('websocket'), 2000, 'the owner to resume');
    assert.equal(hello.session, peer.sessionId);
  });

  it("lets every origin in with allowedOrigins: '*' (the opt-out)", async (t) => {
    const s = await site(t, { allowedOrigins: '*' });
    assert.deepEqual(await openWebSocket(t, s, evil), { status: 101, first: 'hi' });
    assert.deepEqual(await openWebSocket(t, s, s.url), { status: 101, first: 'hi' });
  });

  it('checks a list of allowed origins instead of the host when one is given', async (t) => {
    const s = await site(t, { allowedOrigins: ['https://app.example'] });
    assert.equal((await openWebSocket(t, s, s.url)).status, 403);
    assert.deepEqual(await openWebSocket(t, s, 'https://app.example'), { status: 101, first: 'hi' });
  });
});

/** A session opened by the real client library over polling (its POSTs carry application/json). */
async function pollClient(t: TestContext, s: Site) {
  const conn = connect(`${s.url}/live`, { ...quick, transports: ['poll'] });
  t.after(() => conn.close());
  await nextEvent(conn, 'open');
  const id = conn.sessionId as string;
  const forge = (headers: Record<string, string>) =>
    fetch(`${s.url}/live?ecs=${id}&ecm=1`, { method: 'POST', body: '["csrf"]', headers });
  return { conn, forge };
}

async function refusal(res: Response): Promise<[number, unknown]> {
  return [res.status, ((await res.json()) as { error: unknown }).error];
}

/** The client's two messages arrive, once each and in order, and nothing else does. */
async function servesTheClient(s: Site, conn: ReturnType<typeof connect>): Promise<void> {
  conn.send('real');
  conn.send('second');
  assert.equal(await s.received.next(3000, 'the client message'), 'real');
  assert.equal(await s.received.next(3000, 'the second client message'), 'second');
  assert.equal(s.received.size, 0);
}

describe('forged session POSTs (CSRF)', () => {
  it('refuses a cross-site simple POST (text/plain, Origin of another site) with 403 origin-not-allowed', async (t) => {
    const s = await site(t);
    const { conn, forge } = await pollClient(t, s);
    assert.deepEqual(await refusal(await forge({ 'content-type': 'text/plain', origin: evil })), [403, 'origin-not-allowed']);
    await servesTheClient(s, conn);
  });

  it('refuses a session POST that is not application/json, with or without Origin, with 403 json-required', async (t) => {
    const s = await site(t, { allowedOrigins: ['https://app.example'] });
    const { conn, forge } = await pollClient(t, s);
    for (const headers of [
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain', origin: 'https://app.example' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      { 'content-type': 'text/plain; application/json' },
    ]) {
      assert.deepEqual(await refusal(await forge(headers)), [403, 'json-required'], JSON.stringify(headers));
    }
    await servesTheClient(s, conn);
  });

  it('refuses a text/plain POST when express.json() runs before live, and still reads the JSON the client sends', async (t) => {
    const s = await site(t, {}, express.json());
    const { conn, forge } = await pollClient(t, s);
    assert.deepEqual(await refusal(await forge({ 'content-type': 'text/plain' })), [403, 'json-required']);
    await servesTheClient(s, conn);
  });

  it('takes a session POST with application/json and a charset from a non-browser client', async (t) => {
    const s = await site(t);
    const { forge } = await pollClient(t, s);
    const res = await forge({ 'content-type': 'Application/JSON; charset=utf-8' });
    assert.deepEqual([res.status, await res.json()], [200, { received: 1 }]);
    assert.equal(await s.received.next(2000, 'the POSTed message'), 'csrf');
  });
});
