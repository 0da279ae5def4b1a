import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import WebSocket from 'ws';
import { channels, type Live } from '../../lib/index.js';
import { deferred, openWebSocket, serve, withTimeout, wsInbox } from '../support/harness.js';

/** Opens a WebSocket that the server refuses; resolves with the HTTP answer and its body. */
async function refusedUpgrade(t: TestContext, url: string): Promise<{ res: IncomingMessage; body: string; closed: Promise<unknown> }> {
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  ws.on('error', () => undefined);
  const [, res] = (await withTimeout(once(ws, 'unexpected-response'), 2000, `the answer to the upgrade of ${url}`)) as [unknown, IncomingMessage];
  const closed = once(res.socket, 'close');
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk as string;
  return { res, body, closed };
}

/** A route that echoes on its channel. */
function echo(req: Request): void {
  const ch = req.channel!;
  ch.onReceive((message) => ch.send(message));
}

/** `channels()` in an app whose `/live` runs `before`, then echoes. */
function echoApp(...before: ((req: Request, res: Response, next: NextFunction) => void)[]): { live: Live; app: express.Express } {
  const live = channels({ heartbeat: 0 });
  const app = express();
  app.use(live);
  app.get('/live', ...before, echo);
  return { live, app };
}

function requireToken(req: Request, res: Response, next: NextFunction): void {
  if (req.query['token'] === 'secret') return next();
  res.status(401).set('www-authenticate', 'Bearer').send('who are you?');
}

describe('live.attach (upgrades routed through the app)', () => {
  it('sends a real 401 over the socket when a middleware refuses the upgrade, and lets the right one through', async (t) => {
    const { live, app } = echoApp(requireToken);
    const s = await serve(t, app, live);

    const refused = await refusedUpgrade(t, `${s.wsUrl}/live`);
    assert.equal(refused.res.statusCode, 401);
    assert.equal(refused.res.headers['www-authenticate'], 'Bearer');
    assert.equal(refused.res.headers['connection'], 'close');
    assert.equal(refused.body, 'who are you?');
    await withTimeout(refused.closed, 2000, 'the refused socket to close');
    assert.equal(live.channels.size, 0);

    const ws = await openWebSocket(t, `${s.wsUrl}/live?token=secret`);
    ws.send('let in');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'let in');
  });

  it("answers an upgrade that no route claims with the app's own 404", async (t) => {
    const { live, app } = echoApp();
    const s = await serve(t, app, live);
    const { res, body, closed } = await refusedUpgrade(t, `${s.wsUrl}/nowhere`);
    assert.equal(res.statusCode, 404);
    assert.match(body, /Cannot GET \/nowhere/);
    await withTimeout(closed, 2000, 'the socket to close');
  });

  it('lets the very first request to a fresh server be an upgrade', async (t) => {
    const { live, app } = echoApp();
    const s = await serve(t, app, live);
    // No plain request reached this server (or app) before the upgrade.
    const ws = await openWebSocket(t, `${s.wsUrl}/live`);
    ws.send('first');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'first');
  });

  it('routes upgrades through a named handler: attach(server, app)', async (t) => {
    const { live, app } = echoApp();
    // The server's own listener knows nothing of `app`.
    const s = await serve(t, (_req, res) => res.writeHead(418).end('not the app'), live, { attach: false });
    live.attach(s.server, app);
    const ws = await openWebSocket(t, `${s.wsUrl}/live`);
    ws.send('via the named handler');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'via the named handler');
    assert.equal(await (await fetch(`${s.url}/live`)).text(), 'not the app');
  });

  it('answers 404 when the server has no request listener and none is named', async (t) => {
    const live = channels({ heartbeat: 0 });
    const server = createServer();
    live.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await live.close();
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    const { res } = await refusedUpgrade(t, `ws://127.0.0.1:${port}/live`);
    assert.equal(res.statusCode, 404);
  });

  it('attaches once per server: again with the same live is a no-op, with another live a clear error', async (t) => {
    const live = channels({ heartbeat: 0 });
    const app = express();
    app.use(live);
    app.get('/live', (req) => req.channel!.onReceive((m) => req.channel!.send(m)));
    const s = await serve(t, app, live);
    live.attach(s.server);
    assert.equal(s.server.listenerCount('upgrade'), 1);
    const other = channels();
    assert.throws(() => other.attach(s.server), {
      name: 'ChannelError',
      code: 'ERR_CHANNEL_ALREADY_ATTACHED',
      message: 'this server already routes its upgrades through another channels() instance; attach one per server',
    });
    const ws = await openWebSocket(t, `${s.wsUrl}/live`);
    ws.send('once');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'once');
  });

  it('serves an Upgrade header without Connection: upgrade as the plain request it is', async (t) => {
    const live = channels({ heartbeat: 0 });
    const app = express();
    app.use(live);
    app.get('/live', (req) => void req.channel!.send(`served as ${req.channel!.transport}`));
    const s = await serve(t, app, live);
    // fetch refuses to send Upgrade at all; Node's client sends it as given.
    const req = httpRequest(`${s.url}/live`, {
      headers: { upgrade: 'websocket', connection: 'close', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    });
    req.end();
    const [res] = (await withTimeout(once(req, 'response'), 2000, 'the answer')) as [IncomingMessage];
    res.setEncoding('utf8');
    let body = '';
    for await (const chunk of res) body += chunk as string;
    assert.equal(res.statusCode, 200);
    assert.equal(body, 'served as http');
  });

  it('refuses upgrades with 503 once live.close() was called', async (t) => {
    const { live, app } = echoApp();
    const s = await serve(t, app, live);
    await live.close();
    const { res, body } = await refusedUpgrade(t, `${s.wsUrl}/live`);
    assert.equal(res.statusCode, 503);
    assert.equal(body, 'Server is shutting down');
  });

  it('survives a client that resets the socket while the app is still deciding', async (t) => {
    const live = channels({ heartbeat: 0 });
    const app = express();
    app.use(live);
    let release!: () => void;
    const decided = new Promise<void>((resolve) => (release = resolve));
    const answered = deferred();
    const reached = new Promise<void>((resolve) => {
      app.get('/slow', async (req, res) => {
        resolve();
        await decided;
        // The client is gone by now: answering must not crash the server.
        res.status(401).send('too late');
        answered.resolve();
        void req;
      });
    });
    app.get('/live', echo);
    const s = await serve(t, app, live);
    const doomed = new WebSocket(`${s.wsUrl}/slow`);
    doomed.on('error', () => undefined);
    await withTimeout(reached, 2000, 'the slow route');
    const gone = new Promise((resolve) => doomed.once('close', resolve));
    doomed.terminate();
    await withTimeout(gone, 2000, 'the client to go');
    release();
    await withTimeout(answered.promise, 2000, 'the route to answer the gone client');
    const ws = await openWebSocket(t, `${s.wsUrl}/live`);
    ws.send('still here');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'still here');
  });
});
