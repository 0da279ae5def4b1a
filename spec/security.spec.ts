// Attacks from the outside over real sockets (docs/security.md, "What the tests prove"): each
// test runs a hostile request beside a well-behaved client that must keep being served.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { EventSource as EventSourceClient } from 'eventsource';
import express from 'express';
import WebSocket from 'ws';
import { channels, type ChannelsOptions, type CloseReason, type Message } from '../lib/index.js';
import { coreOf } from '../lib/channel/channel.js';
import { connect, type EventSourceConstructor } from '../lib/client/node.js';
import { nextEvent, quick, startServer } from './client/support.js';
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
    const peer = new SessionPeer(s.url, '/live');
    t.after(() => peer.cut());
    await peer.connect('poll');
    const headers = { 'content-type': 'Application/JSON; charset=utf-8', ...peer.headers() };
    const res = await fetch(`${s.url}/live?ecs=${peer.sessionId}&ecm=1`, { method: 'POST', body: '["csrf"]', headers });
    assert.deepEqual([res.status, await res.json()], [200, { received: 1 }]);
    assert.equal(await s.received.next(2000, 'the POSTed message'), 'csrf');
  });
});

/** What a request with these headers to `/live?query` is answered: status and JSON error code. */
async function answerTo(url: string, query: string, init: RequestInit = {}): Promise<[number, unknown]> {
  const res = await fetch(`${url}?${query}`, init);
  const text = await res.text();
  return [res.status, res.status === 200 ? 'ok' : (JSON.parse(text) as { error: unknown }).error];
}

/** How a WebSocket to `/live?query` offering `protocols` is closed: code and reason. */
async function webSocketClose(url: string, query: string, protocols: string[] = []): Promise<[number, string]> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}?${query}`, protocols);
  ws.on('error', () => undefined);
  const [code, reason] = (await withTimeout(once(ws, 'close'), 2000, `the close of ${query}`)) as [number, Buffer];
  return [code, reason.toString()];
}

const transports = [
  { name: 'websocket', options: { transports: ['websocket'] } },
  { name: 'sse', options: { transports: ['sse'] } },
  { name: 'poll', options: { transports: ['poll'] } },
  { name: 'the native EventSource', options: { transports: ['sse'], useNativeEventSource: true, EventSource: EventSourceClient as unknown as EventSourceConstructor } },
] as const;

describe('session secrets', () => {
  for (const { name, options } of transports) {
    it(`keeps the secret out of every URL the client library requests on ${name}, through a resume, sends and a goodbye`, async (t) => {
      const server = await startServer(t);
      const conn = connect(server.url, { ...quick, ...options });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const ch = await server.channel();
      const secret = coreOf(ch).session!.secret;
      conn.send('one');
      await server.receivedCount(ch, 1);
      const reopened = nextEvent(conn, 'open');
      server.cut();
      assert.equal((await reopened).resumed, true);
      const arrived = nextEvent(conn, 'message');
      ch.send('after the resume');
      assert.equal((await arrived).data, 'after the resume');
      conn.send('two');
      assert.deepEqual(await server.receivedCount(ch, 2), ['one', 'two']);
      const closed = new Promise((resolve) => ch.onClose(resolve));
      conn.close();
      assert.equal(await withTimeout(closed, 2000, 'the goodbye'), name === 'websocket' ? 'normal' : 'client-close');
      assert.ok(server.urls.length >= 2, `requests seen: ${server.urls.join(' ')}`);
      for (const url of server.urls) assert.ok(!url.includes(secret), `the secret is in ${url}`);
    });
  }

  it('refuses every request that has only the session id (or a wrong secret), on every transport, and harms nothing', async (t) => {
    const server = await startServer(t);
    const url = server.url;
    const peer = new SessionPeer(url.replace(/\/live$/, ''), '/live');
    t.after(() => peer.cut());
    await peer.connect('websocket');
    const id = peer.sessionId as string;
    peer.cut();
    await peer.ended();
    const ch = await server.channel();
    ch.send('kept');
    const wrong = { 'ec-secret': 'AAAAAAAAAAAAAAAAAAAAAA' };
    const json = { 'content-type': 'application/json' };
    // eca=1 would acknowledge (and so drop) the message below if any of these were obeyed.
    assert.deepEqual(await webSocketClose(url, `ecs=${id}&eca=1`), [4401, 'secret-required']);
    assert.deepEqual(await webSocketClose(url, `ecs=${id}&eca=1`, ['express-channel', 'ec-secret.AAAAAAAAAAAAAAAAAAAAAA']), [4401, 'secret-mismatch']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1`, { headers: { accept: 'text/event-stream' } }), [403, 'secret-required']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1`, { headers: { accept: 'text/event-stream', ...wrong } }), [403, 'secret-mismatch']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1&ect=poll`), [403, 'secret-required']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1&ecm=1`, { method: 'POST', body: '["forged"]', headers: json }), [403, 'secret-required']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1&ecr=new`, { method: 'POST', body: '[]', headers: { ...json, ...wrong } }), [403, 'secret-mismatch']);
    assert.deepEqual(await answerTo(url, `ecs=${id}&eca=1&ecr=AAAAAAAAAAAAAAAAAAAAAA`, { headers: { accept: 'text/event-stream' } }), [403, 'secret-mismatch']);
    assert.deepEqual(await answerTo(url, `ecs=${id}`, { method: 'DELETE' }), [403, 'secret-required']);
    // The Last-Event-ID of a plain EventSource from before secrets: `SESSION.SEQ`.
    assert.deepEqual(await answerTo(url, 'ecs=new', { headers: { accept: 'text/event-stream', 'last-event-id': `${id}.1` } }), [403, 'secret-required']);
    const res = await fetch(`${url}?ecs=${id}&eca=1`, { headers: { accept: 'text/event-stream' } });
    assert.match((await res.json() as { message: string }).message, /EC-Secret header/, 'the refusal says what is missing');
    assert.deepEqual(server.received.get(ch.id), [], 'no forged message was delivered');
    // The owner comes back with its secret: the session is whole.
    const hello = await withTimeout(peer.connect('websocket'), 2000, 'the owner to resume');
    assert.deepEqual([hello.session, hello.next], [id, 1]);
    await withTimeout(peer.waitFor(1), 2000, 'the message sent before the attempts');
    assert.deepEqual(peer.messages, ['kept']);
  });

  it('admits a resume ticket once: a second stream with the same ticket is refused', async (t) => {
    const s = await site(t);
    const peer = new SessionPeer(s.url, '/live');
    t.after(() => peer.cut());
    await peer.connect('poll');
    const id = peer.sessionId as string;
    const ticketAnswer = await fetch(`${s.url}/live?ecs=${id}&eca=0&ecr=new`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json', ...peer.headers() } });
    const { ticket } = (await ticketAnswer.json()) as { ticket: string };
    assert.match(ticket, /^[\w-]{22}$/);
    assert.notEqual(ticket, peer.secret);
    const stream = await fetch(`${s.url}/live?ecs=${id}&eca=0&ecr=${ticket}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(stream.status, 200);
    await stream.body?.cancel();
    assert.deepEqual(await answerTo(`${s.url}/live`, `ecs=${id}&eca=0&ecr=${ticket}`, { headers: { accept: 'text/event-stream' } }), [403, 'secret-mismatch']);
  });

  it("keeps a closed polling session's last answer for its own client: a poll with only the id learns nothing", async (t) => {
    const server = await startServer(t);
    const peer = new SessionPeer(server.url.replace(/\/live$/, ''), '/live');
    await peer.connect('poll');
    peer.cut();
    await peer.ended();
    const ch = await server.channel();
    ch.send('last words');
    ch.close();
    const base = server.url;
    const stranger = await fetch(`${base}?ecs=${peer.sessionId}&ect=poll&eca=0`);
    assert.deepEqual([stranger.status, ((await stranger.json()) as { error: string }).error], [404, 'unknown-session'], 'as if it never existed');
    const owner = await fetch(`${base}?ecs=${peer.sessionId}&ect=poll&eca=0`, { headers: peer.headers() });
    const answer = (await owner.json()) as { messages: string[]; closed: string };
    assert.deepEqual([owner.status, answer.messages, answer.closed], [200, ['last words'], 'server-close']);
  });
});
