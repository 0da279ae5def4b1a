// express-channel/testing, tested as a user's test would use it: real servers on 127.0.0.1,
// every kind of client, the failures' messages, the cuts, and the cleanup.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import express from 'express';
import { channels, type Channel, type CloseReason } from '../../lib/index.js';
import { testScope, within } from '../../lib/testing/index.js';

const scope = testScope(afterEach);

function echoApp() {
  const live = channels();
  const app = express();
  app.use(live);
  const closes: CloseReason[] = [];
  const closed: Array<(reason: CloseReason) => void> = [];
  app.get('/echo', (req) => {
    const ch = req.channel!;
    ch.onReceive((message) => ch.send(`echo: ${String(message)}`));
    ch.onClose((reason) => {
      closes.push(reason);
      closed.shift()?.(reason);
    });
  });
  app.get('/events', (req) => {
    const ch = req.channel!;
    ch.send('one', { event: 'count', id: '1' });
    ch.send('two');
  });
  app.get('/stream', (req) => {
    const ch = req.channel!;
    ch.send('a', { close: false });
    setImmediate(() => ch.send('b', { close: true }));
  });
  app.get('/quiet', (req) => req.channel!.onClose(() => undefined));
  const nextClose = (): Promise<CloseReason> => new Promise((resolve) => closed.push(resolve));
  return { app, live, closes, nextClose };
}

describe('express-channel/testing', () => {
  it('listens on an ephemeral port of 127.0.0.1 and talks to a route over a raw WebSocket', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    assert.notEqual(server.port, 0);
    assert.match(server.url('/echo'), /^http:\/\/127\.0\.0\.1:\d+\/echo$/);
    const ws = await scope.webSocket(server.wsUrl('/echo'));
    ws.send('hi');
    ws.send('ho');
    assert.equal(await ws.next(), 'echo: hi');
    assert.equal(await ws.next(), 'echo: ho');
    assert.deepEqual(ws.messages, ['echo: hi', 'echo: ho']);
    ws.close(1000);
    assert.deepEqual(await ws.closed(), { code: 1000, reason: '' });
  });

  it('fails a wait with what was awaited, what arrived so far, and how long it waited', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    const ws = await scope.webSocket(server.wsUrl('/echo'));
    ws.send('only one');
    assert.equal(await ws.next(), 'echo: only one');
    await assert.rejects(ws.next(50), {
      message: `timed out after 50 ms waiting for the next message on the WebSocket ${server.wsUrl('/echo')} (1 received, the last "echo: only one", 1 taken by next())`,
    });
    await assert.rejects(ws.closed(20), { message: /^timed out after 20 ms waiting for the end of the WebSocket .* still open$/ });
  });

  it('fails a next() at once when the connection ends first, saying how it ended', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    const ws = await scope.webSocket(server.wsUrl('/echo'));
    for (const channel of live.channels) channel.close('server-close');
    await assert.rejects(ws.next(), { message: /^the WebSocket ws:.*\/echo ended \(1000\) before a next message; / });
  });

  it('says what refused a WebSocket handshake', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    await assert.rejects(scope.webSocket(server.wsUrl('/echo'), { origin: 'http://evil.example' }), {
      message: `the WebSocket handshake with ${server.wsUrl('/echo')} was answered 403: Origin not allowed`,
    });
    await assert.rejects(scope.webSocket(server.wsUrl('/nowhere')), { message: /was answered 404: [\s\S]*Cannot GET \/nowhere/ });
  });

  it('reads an event stream, and says what came instead of one', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    const stream = await scope.eventStream(server.url('/events'));
    assert.deepEqual(await stream.next(), { data: 'one', event: 'count', id: '1' });
    assert.equal((await stream.next()).data, 'two');
    await assert.rejects(scope.eventStream(server.url('/nowhere')), { message: /^expected an event stream from http:.*\/nowhere, got 404 text\/html; charset=utf-8: / });
  });

  it('answers a long-poll and reads a stream chunk by chunk', async () => {
    const { app, live } = echoApp();
    const server = await scope.listen(app, { live });
    const stream = scope.http(server.url('/stream'));
    assert.equal((await stream.response()).status, 200);
    assert.equal(await stream.next(), 'a');
    assert.equal(await stream.body(), 'ab');
    const poll = scope.http(server.url('/quiet'));
    await assert.rejects(poll.response(30), { message: `timed out after 30 ms waiting for the answer to ${server.url('/quiet')}` });
  });

  it('cuts a connection as the network would: the server sees it fail, not close cleanly', async () => {
    const { app, live, nextClose } = echoApp();
    const server = await scope.listen(app, { live });
    const ws = await scope.webSocket(server.wsUrl('/echo'));
    const reason = nextClose();
    ws.cut();
    assert.equal(await within(reason, 2000, 'the channel to close'), 'abnormal');
    assert.equal((await ws.closed()).code, 1006);
  });

  it('drives the client library through a cut connection: it resumes and loses nothing', async () => {
    const live = channels();
    const app = express();
    app.use(live);
    const sessions: Channel[] = [];
    app.get('/live', (req) => {
      sessions.push(req.channel!);
      req.channel!.send('before the cut');
    });
    const server = await scope.listen(app, { live });
    const client = scope.client(server.url('/live'), { transports: ['websocket'] });
    assert.equal((await client.opened()).resumed, false);
    assert.equal(await client.next(), 'before the cut');
    assert.equal(server.cutConnections(), 1);
    sessions[0]!.send('while away');
    assert.equal((await client.opened()).resumed, true);
    assert.equal(await client.next(), 'while away');
    assert.equal(sessions.length, 1, 'one session, resumed');
    client.close();
    assert.equal((await client.closed()).reason, 'client-close');
  });

  it('closes everything a test opened: live first, then the servers and their sockets', async () => {
    const own = testScope();
    const { app, live, closes } = echoApp();
    const server = await own.listen(app, { live });
    await own.webSocket(server.wsUrl('/echo'));
    const idle = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    await own.close();
    assert.deepEqual(closes, ['shutdown']);
    assert.equal(server.server.listening, false);
    assert.equal(server.sockets.size, 0);
    idle.on('error', () => undefined); // the server's end may come as a reset
    await within(once(idle, 'close'), 2000, 'the server to close the idle connection');
  });

  it('runs every cleanup even when one fails, and reports the failure', async () => {
    const own = testScope({ after: () => undefined });
    const ran: string[] = [];
    own.defer(() => ran.push('first'));
    own.defer(() => {
      throw new Error('cleanup failed');
    });
    await assert.rejects(own.close(), { message: 'cleanup failed' });
    assert.deepEqual(ran, ['first']);
  });

  it('hands the runner a cleanup that takes no done callback and returns a promise, as Jest, Vitest and Mocha await it', async () => {
    const handed: Array<() => Promise<void>> = [];
    const own = testScope((cleanup) => handed.push(cleanup));
    let ran = false;
    own.defer(() => (ran = true));
    const [cleanup] = handed;
    // A hook function with a parameter is a callback-style hook to Mocha and Jest: it would
    // wait for done() and time out.
    assert.equal(cleanup!.length, 0);
    const result = cleanup!();
    assert.ok(result instanceof Promise);
    await result;
    assert.equal(ran, true);
  });

  it('serves an http.Server of the app\'s own, and refuses one already listening', async () => {
    const { app, live } = echoApp();
    const own = createServer(app);
    const server = await scope.listen(own, { live });
    assert.equal(server.server, own);
    const ws = await scope.webSocket(server.wsUrl('/echo'));
    ws.send('through the app\'s server');
    assert.equal(await ws.next(), 'echo: through the app\'s server');
    await assert.rejects(scope.listen(own), {
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: 'listen() takes an http.Server that is not listening yet: it listens on an ephemeral port of 127.0.0.1 itself',
    });
    await assert.rejects(scope.listen('app' as never), { code: 'ERR_CHANNEL_INVALID_OPTION', message: 'listen() takes an app (a request listener) or an http.Server, got string' });
  });

  it('refuses a hook it cannot call', () => {
    assert.throws(() => testScope({} as never), {
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: "testScope(hook) takes the runner's afterEach, or a node:test context (with after()); got an object without after()",
    });
  });
});
