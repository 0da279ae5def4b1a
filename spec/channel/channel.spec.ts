// The channel a user holds (Channel, lib/channel/channel.ts) and the core behind it
// (ChannelCore, lib/channel/core.ts), on a real server with real clients. The transports'
// own specs cover what each transport writes; this one covers the contract both classes keep.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { channelOf, coreOf } from '../../lib/channel/channel.js';
import { channels, type Channel, type ChannelsOptions, type CloseReason, type Live } from '../../lib/index.js';
import { testScope, within, type TestScope, type TestServer } from '../../lib/testing/index.js';
import { deferred, Inbox } from '../support/harness.js';
import { SessionPeer } from '../support/session-peer.js';

interface Opened {
  channel: Channel;
  req: IncomingMessage;
  res: ServerResponse;
}

/** `live` in an Express app whose `/live` route hands each request's channel, unclaimed, to the test. */
async function liveApp(t: TestContext, options: ChannelsOptions = {}): Promise<{ live: Live; served: TestServer; scope: TestScope; opened: Inbox<Opened>; errors: Error[] }> {
  const live = channels({ heartbeat: 0, ...options });
  const errors: Error[] = [];
  live.on('error', (error) => errors.push(error));
  const app = express();
  app.use(live);
  const opened = new Inbox<Opened>();
  app.get('/live', (req, res) => opened.push({ channel: req.channel!, req, res }));
  const scope = testScope(t);
  return { live, served: await scope.listen(app, { live }), scope, opened, errors };
}

function closedReason(channel: Channel): Promise<CloseReason> {
  const closed = deferred<CloseReason>();
  channel.onClose(closed.resolve);
  return within(closed.promise, 2000, 'the close handler');
}

/** What `fn` threw: its class, code and message. */
function thrown(fn: () => unknown): { type: string; code: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    const e = error as Error & { code?: unknown };
    return { type: e.constructor.name, code: e.code, message: e.message };
  }
  return assert.fail('expected a throw');
}

describe('Channel', () => {
  it('is the one object in front of its core: coreOf and channelOf lead from one to the other', async (t) => {
    const { served, opened } = await liveApp(t);
    const answered = fetch(served.url('/live'));
    const { channel, req, res } = await opened.next();
    const core = coreOf(channel);
    assert.equal(channelOf(core), channel);
    assert.equal(req.channel, channel);
    assert.equal(core.id, channel.id);
    res.end();
    await (await answered).arrayBuffer();
  });

  it('lets coreOf take nothing but a channel', () => {
    assert.deepEqual(thrown(() => coreOf({} as Channel)), { type: 'TypeError', code: 'ERR_CHANNEL_INVALID_DATA', message: 'expected a channel (req.channel), got object' });
    assert.deepEqual(thrown(() => coreOf(null as unknown as Channel)), { type: 'TypeError', code: 'ERR_CHANNEL_INVALID_DATA', message: 'expected a channel (req.channel), got null' });
  });

  it('tells its transport, whether a WebSocket or a session carries it, and why it closed', async (t) => {
    const { served, scope, opened } = await liveApp(t);
    const client = scope.webSocket(served.wsUrl('/live'));
    const ws = (await opened.next()).channel;
    ws.onClose(() => undefined);
    await client;
    assert.deepEqual([ws.transport, ws.isWebSocket, ws.isSession], ['websocket', true, false]);
    const stream = scope.eventStream(served.url('/live?ecs=new'));
    const sse = (await opened.next()).channel;
    sse.onClose(() => undefined);
    await stream;
    assert.deepEqual([sse.transport, sse.isWebSocket, sse.isSession], ['sse', false, true]);
    assert.deepEqual([sse.isOpen, sse.closeReason], [true, undefined]);
    assert.equal(sse.close('going-away'), true);
    assert.deepEqual([sse.isOpen, sse.closeReason], [false, 'going-away'], 'recorded at once');
    assert.equal(sse.close('normal'), false);
    assert.equal(sse.closeReason, 'going-away');
  });

  it('checks its arguments before claiming: a bad call throws and the request stays an ordinary one', async (t) => {
    const { live, served, opened } = await liveApp(t);
    const answer = fetch(served.url('/live'));
    const { channel, res } = await opened.next();
    const invalidData = { type: 'TypeError', code: 'ERR_CHANNEL_INVALID_DATA' };
    assert.deepEqual(thrown(() => channel.onReceive('handler' as never)), { ...invalidData, message: 'onReceive() takes a function, got string' });
    assert.deepEqual(thrown(() => channel.onClose(null as never)), { ...invalidData, message: 'onClose() takes a function, got null' });
    assert.deepEqual(thrown(() => channel.send(42 as never)), {
      ...invalidData,
      message: 'send() takes a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }, got number: convert it with String(value) or JSON.stringify(value)',
    });
    assert.deepEqual(thrown(() => channel.send({ type: 'chat', text: 'hi' } as never)), {
      ...invalidData,
      message: 'send() takes a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }, got an object: send JSON.stringify(value), and JSON.parse the text on the client',
    });
    assert.deepEqual(thrown(() => channel.send('x', { evnet: 'chat' } as never)), {
      type: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: 'send() has no option "evnet"; did you mean "event"?',
    });
    assert.deepEqual(thrown(() => channel.send('x', { event: 'a\nb' })), { type: 'TypeError', code: 'ERR_CHANNEL_INVALID_FIELD', message: 'SSE event must not contain CR, LF or NUL: "a\\nb"' });
    assert.deepEqual(thrown(() => channel.close('bye' as never)), {
      type: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_REASON',
      message: 'close() takes one of the documented close reasons, got "bye"',
    });
    assert.equal(live.channels.size, 0);
    res.writeHead(418).end('still an ordinary request');
    const got = await answer;
    assert.deepEqual([got.status, await got.text()], [418, 'still an ordinary request']);
  });

  it('returns false from send once closed, and still rejects what it could never send (same verdict whether or not a disconnect won the race)', async (t) => {
    const { served, scope, opened } = await liveApp(t);
    const stream = scope.eventStream(served.url('/live'));
    const { channel } = await opened.next();
    channel.close();
    await (await stream).closed();
    assert.equal(channel.send('late'), false);
    assert.equal(thrown(() => channel.send(42 as never)).code, 'ERR_CHANNEL_INVALID_DATA');
    assert.equal(thrown(() => channel.send('late', { evnet: 'chat' } as never)).code, 'ERR_CHANNEL_INVALID_OPTION');
  });

  it('reserves event names starting with ec- on session channels only', async (t) => {
    const { served, scope, opened } = await liveApp(t);
    const sessionStream = scope.eventStream(served.url('/live?ecs=new'));
    const session = (await opened.next()).channel;
    session.onClose(() => undefined);
    await sessionStream;
    assert.deepEqual(thrown(() => session.send('x', { event: 'ec-hello' })), {
      type: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_FIELD',
      message: 'SSE event names starting with "ec-" are reserved for the session protocol, got "ec-hello"',
    });
    const plainStream = scope.eventStream(served.url('/live'));
    const plain = (await opened.next()).channel;
    assert.equal(plain.send('x', { event: 'ec-hello' }), true);
    assert.deepEqual(await (await plainStream).next(), { event: 'ec-hello', id: undefined, data: 'x' });
  });
});

describe('ChannelCore', () => {
  const claims: Record<string, (channel: Channel, live: Live) => void> = {
    send: (channel) => channel.send('first'),
    onReceive: (channel) => channel.onReceive(() => undefined),
    onClose: (channel) => channel.onClose(() => undefined),
    'being added to a group': (channel, live) => live.group('claims').add(channel),
  };
  for (const [use, claim] of Object.entries(claims)) {
    it(`is claimed by its first use (${use}) and only then counted open`, async (t) => {
      const { live, served, scope, opened } = await liveApp(t);
      const stream = scope.eventStream(served.url('/live'));
      const { channel } = await opened.next();
      assert.deepEqual([channel.isOpen, live.channels.size, live.stats().open.sse], [true, 0, 0]);
      claim(channel, live);
      assert.deepEqual([live.channels.size, live.stats().open.sse], [1, 1]);
      assert.equal((await stream).headers['content-type'], 'text/event-stream; charset=utf-8');
    });
  }

  it('closes alone with internal-server-error when something the library ran for it failed, and reports it', async (t) => {
    const { served, scope, opened, errors } = await liveApp(t);
    const client = scope.webSocket(served.wsUrl('/live'));
    const failing = (await opened.next()).channel;
    const reason = closedReason(failing);
    const clientClosed = (await client).closed(2000);
    const otherClient = scope.webSocket(served.wsUrl('/live'));
    const other = (await opened.next()).channel;
    other.onClose(() => undefined);
    await otherClient;
    const failure = new Error('injected: scheduled work');
    coreOf(failing).failed(failure);
    assert.equal(await reason, 'internal-server-error');
    assert.equal((await clientClosed).code, 1011);
    assert.equal(other.isOpen, true);
    // A failure reported after the close is reported, and changes nothing.
    const late = new Error('injected: after the close');
    coreOf(failing).failed(late);
    assert.deepEqual(errors, [failure, late]);
    assert.equal(failing.closeReason, 'internal-server-error');
  });

  it('leaves an unclaimed channel unclaimed when a failure is reported for it', async (t) => {
    const { live, served, opened, errors } = await liveApp(t);
    const answer = fetch(served.url('/live'));
    const { channel, res } = await opened.next();
    const failure = new Error('injected: before the claim');
    coreOf(channel).failed(failure);
    assert.deepEqual(errors, [failure]);
    assert.deepEqual([channel.isOpen, channel.closeReason, live.channels.size], [true, undefined, 0]);
    res.end('answered by the route');
    assert.equal(await (await answer).text(), 'answered by the route');
  });

  it('ends a session whose client closes its WebSocket with a goodbye (1000)', async (t) => {
    const { served, scope, opened } = await liveApp(t);
    const client = scope.webSocket(served.wsUrl('/live?ecs=new'));
    const { channel } = await opened.next();
    const reason = closedReason(channel);
    const ws = await client;
    await ws.next(2000); // the hello
    ws.close(1000);
    assert.equal(await reason, 'normal');
    assert.equal(channel.isSession, true);
  });

  it('keeps a session open when its connection is lost, and closes it with client-away when its client does not come back within sessionTimeout', async (t) => {
    const { served, opened } = await liveApp(t, { sessionTimeout: 10_000 });
    const peer = new SessionPeer(served.url(), '/live');
    const hello = peer.connect('sse');
    const { channel, res } = await opened.next();
    const closed = deferred<CloseReason>();
    channel.onClose(closed.resolve); // claims: the stream's own 'close' listener comes first
    const lost = new Promise((resolve) => res.once('close', resolve));
    await within(hello, 2000, 'the hello');
    t.mock.timers.enable({ apis: ['setTimeout'] });
    peer.cut();
    await lost; // the channel has seen its connection end
    assert.deepEqual([channel.isOpen, channel.closeReason], [true, undefined]);
    t.mock.timers.tick(9_999);
    assert.equal(channel.isOpen, true);
    t.mock.timers.tick(1);
    assert.deepEqual([channel.isOpen, channel.closeReason], [false, 'client-away']);
    assert.equal(await closed.promise, 'client-away');
  });
});
