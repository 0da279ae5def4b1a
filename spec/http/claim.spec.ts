// createWire on its own: claiming a real request on a real server for each transport, and the
// refusals. The host is a ClaimHost object (the interface claim.ts declares for the hub); the
// wire's sink is a recording WireSink (the interface a wire declares for its channel).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { newChannelId } from '../../lib/channel/ids.js';
import { ChannelError } from '../../lib/errors.js';
import { createWire, type ClaimHost } from '../../lib/http/claim.js';
import { routeUpgrades, upgradeOf } from '../../lib/http/upgrade.js';
import type { CloseReason } from '../../lib/index.js';
import { LoggedMessage } from '../../lib/sessions/message-log.js';
import { Session } from '../../lib/sessions/session.js';
import type { SessionWiring, TransportName, Wire, WireSink } from '../../lib/transports/wire.js';
import { deferred, openSse, rawExchange, serve, withTimeout, type Served } from '../support/harness.js';

const refusedOrigin = 'https://elsewhere.example';

class TestHost implements ClaimHost {
  closing = false;
  readonly origins: Array<string | undefined> = [];
  readonly options = {
    shutdownRetry: 1000,
    pollTimeout: 60_000,
    flushInterval: 0,
    isOriginAllowed: (origin: string | undefined): boolean => {
      this.origins.push(origin);
      return origin !== refusedOrigin;
    },
  };
  readonly #server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
  webSocketServer(): WebSocketServer {
    return this.#server;
  }
}

/** The channel side of a wire; these tests look at what the client gets instead. */
const sink: WireSink = { received() {}, ended() {}, control() {}, released() {}, failed() {} };

type Claimed = Wire | CloseReason | ChannelError;

/**
 * A server whose every request (upgrades too, routed as live.attach does) is claimed with
 * `transport`; the outcome of createWire, or what it threw, is handed to the test.
 */
async function claimServer(t: TestContext, host: TestHost, transport: TransportName, options: { before?: (res: ServerResponse) => void; session?: SessionWiring; attach?: boolean } = {}) {
  const outcomes: Array<(claimed: Claimed) => void> = [];
  const claimed = () => {
    const next = deferred<Claimed>();
    outcomes.push(next.resolve);
    return withTimeout(next.promise, 2000, 'the claim');
  };
  const served = await serve(t, (req: IncomingMessage, res: ServerResponse) => {
    options.before?.(res);
    let outcome: Claimed;
    try {
      outcome = createWire({ transport, context: { req, res, upgrade: upgradeOf(req) }, sink, head: {}, session: options.session }, host);
    } catch (error) {
      if (!(error instanceof ChannelError)) throw error;
      outcome = error;
      if (!res.writableEnded) res.end();
    }
    outcomes.shift()?.(outcome);
  });
  if (options.attach !== false) routeUpgrades(served.server, { isClosing: () => false, reportError: (error) => assert.fail(String(error)) });
  return { served, claimed };
}

/** A WebSocket whose upgrade is refused: its status and body. */
async function refusedUpgrade(t: TestContext, served: Served, headers: Record<string, string> = {}): Promise<{ status: number | undefined; body: string }> {
  const ws = new WebSocket(served.wsUrl, { headers });
  ws.on('error', () => undefined); // ws reports a refused handshake as an error too
  t.after(() => ws.terminate());
  const [, res] = (await withTimeout(once(ws, 'unexpected-response'), 2000, 'the refusal')) as [unknown, IncomingMessage];
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode, body };
}

function sessionWiring(ack = 0): { session: Session; wiring: SessionWiring } {
  const session = new Session({ id: newChannelId(), close: () => true, failed: () => {}, dropConnection: () => {} }, { sessionMessages: 100, sessionBytes: 1 << 20, sessionTimeout: 30_000, heartbeat: 0, pollTimeout: 25_000 });
  return { session, wiring: session.wiring(ack) };
}

describe('createWire (claiming a request)', () => {
  it('answers 503 with Retry-After and returns shutdown while the host is closing', async (t) => {
    const host = new TestHost();
    host.closing = true;
    const { served, claimed } = await claimServer(t, host, 'sse');
    const outcome = claimed();
    const raw = await rawExchange(served.port, 'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    assert.equal(await outcome, 'shutdown');
    const split = raw.indexOf('\r\n\r\n');
    const [head, body] = [raw.slice(0, split), raw.slice(split + 4)];
    assert.match(head, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(head, /\r\nretry-after: 1\r\n/i);
    assert.match(head, /\r\nconnection: close\r\n/i);
    assert.match(head, /\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
    assert.equal(body, '17\r\nServer is shutting down\r\n0\r\n\r\n', 'chunked, then the connection closes');
  });

  it('answers a WebSocket upgrade 503 too while the host is closing, before looking at its Origin', async (t) => {
    const host = new TestHost();
    host.closing = true;
    const { served, claimed } = await claimServer(t, host, 'websocket');
    const outcome = claimed();
    assert.deepEqual(await refusedUpgrade(t, served, { origin: refusedOrigin }), { status: 503, body: 'Server is shutting down' });
    assert.equal(await outcome, 'shutdown');
    assert.deepEqual(host.origins, []);
  });

  it('refuses a WebSocket from an Origin the host does not allow with 403 and returns policy-violation', async (t) => {
    const host = new TestHost();
    const { served, claimed } = await claimServer(t, host, 'websocket');
    const outcome = claimed();
    assert.deepEqual(await refusedUpgrade(t, served, { origin: refusedOrigin }), { status: 403, body: 'Origin not allowed' });
    assert.equal(await outcome, 'policy-violation');
    assert.deepEqual(host.origins, [refusedOrigin]);
  });

  it('completes the handshake for an allowed Origin and returns the WebSocket wire', async (t) => {
    const host = new TestHost();
    const { served, claimed } = await claimServer(t, host, 'websocket');
    const outcome = claimed();
    const ws = new WebSocket(served.wsUrl, { headers: { origin: 'https://app.example' } });
    t.after(() => ws.terminate());
    await withTimeout(once(ws, 'open'), 2000, 'the handshake');
    const wire = (await outcome) as Wire;
    assert.equal(wire.name, 'websocket');
    wire.send('over the wire', {}, false);
    const [data] = (await withTimeout(once(ws, 'message'), 2000, 'the message')) as [Buffer];
    assert.equal(data.toString(), 'over the wire');
  });

  it("returns protocol-error for a handshake ws refuses, which has answered 400 itself", async (t) => {
    const { served, claimed } = await claimServer(t, new TestHost(), 'websocket');
    const outcome = claimed();
    const raw = await rawExchange(
      served.port,
      'GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n',
    );
    assert.equal(await outcome, 'protocol-error');
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('throws ERR_CHANNEL_NOT_ATTACHED for a WebSocket upgrade that came as a plain request', async (t) => {
    // Without an 'upgrade' listener, Node hands the upgrade request to the request listener.
    const { served, claimed } = await claimServer(t, new TestHost(), 'websocket', { attach: false });
    const outcome = claimed();
    const ws = new WebSocket(served.wsUrl);
    ws.on('error', () => undefined);
    t.after(() => ws.terminate());
    const error = (await outcome) as ChannelError;
    assert.ok(error instanceof ChannelError);
    assert.equal(error.code, 'ERR_CHANNEL_NOT_ATTACHED');
    assert.equal(error.message, 'a WebSocket upgrade reached the middleware through a plain request; call live.attach(server) after app.listen()');
  });

  for (const transport of ['sse', 'http', 'poll'] as const) {
    it(`throws ERR_CHANNEL_RESPONSE_SENT for a ${transport} request already answered, even while closing`, async (t) => {
      const host = new TestHost();
      host.closing = true;
      const { wiring } = sessionWiring();
      const before = (res: ServerResponse) => res.writeHead(200).write('answered');
      const { served, claimed } = await claimServer(t, host, transport, { before, session: wiring });
      const outcome = claimed();
      const res = await fetch(`${served.url}/answered?x=1`);
      assert.equal(await res.text(), 'answered');
      const error = (await outcome) as ChannelError;
      assert.ok(error instanceof ChannelError);
      assert.equal(error.code, 'ERR_CHANNEL_RESPONSE_SENT');
      assert.equal(error.message, `cannot claim the ${transport} channel of GET /answered?x=1: a response was already sent on it`);
    });
  }

  it('throws ERR_CHANNEL_HANDSHAKE for a poll without a session', async (t) => {
    const { served, claimed } = await claimServer(t, new TestHost(), 'poll');
    const outcome = claimed();
    const res = await fetch(`${served.url}/live`);
    await res.arrayBuffer();
    const error = (await outcome) as ChannelError;
    assert.ok(error instanceof ChannelError);
    assert.equal(error.code, 'ERR_CHANNEL_HANDSHAKE');
    assert.equal(error.message, 'the poll transport needs a session');
  });

  it('writes the event-stream headers at once; a session stream numbers its events unless the client counts them (eco=1)', async (t) => {
    const { wiring } = sessionWiring();
    const { served, claimed } = await claimServer(t, new TestHost(), 'sse', { session: wiring });
    for (const [query, numbered] of [['ecs=new', true], ['ecs=new&eco=1', false]] as const) {
      const outcome = claimed();
      const stream = await openSse(t, `${served.url}/live?${query}`);
      assert.equal(stream.response.status, 200);
      assert.equal(stream.response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(await stream.chunks.next(), 'retry: 1000\n\n', 'a session stream asks for a quick return');
      const wire = (await outcome) as Wire;
      assert.deepEqual([wire.name, wire.numbered], ['sse', numbered], query);
      stream.close();
    }
  });

  it('writes nothing for a plain HTTP request until the wire sends', async (t) => {
    const { served, claimed } = await claimServer(t, new TestHost(), 'http');
    const outcome = claimed();
    const answer = fetch(`${served.url}/live`);
    const wire = (await outcome) as Wire;
    assert.equal(wire.name, 'http');
    assert.equal(wire.bufferedBytes, 0);
    wire.send('the answer', {}, true);
    assert.equal(await (await answer).text(), 'the answer');
  });

  it("holds a poll that answers from the session's buffer after its acknowledgement, within the host's pollTimeout", async (t) => {
    const host = new TestHost();
    host.options.pollTimeout = 1;
    const { session, wiring } = sessionWiring(1);
    session.keep(new LoggedMessage('acknowledged', {}), false);
    session.keep(new LoggedMessage('owed', {}), false);
    const { served, claimed } = await claimServer(t, host, 'poll', { session: wiring });
    const outcome = claimed();
    const answer = await withTimeout(fetch(`${served.url}/live`), 2000, 'the poll answer');
    assert.equal(((await outcome) as Wire).name, 'poll');
    assert.deepEqual(await answer.json(), { session: wiring.id, next: 2, received: 0, heartbeat: 0, sessionTimeout: 30_000, secret: session.secret, pollTimeout: 25_000, messages: ['owed'] });
  });
});
