// ChannelHub on its own (spec/hub.spec.ts holds the shutdown through `live`): its stats, its
// open set and session store, the heartbeat sweep, error listeners and close. A real server on
// port 0 makes channels through the hub as the middleware does; clients are real.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { coreOf } from '../lib/channel/channel.js';
import { ChannelHub } from '../lib/hub.js';
import { routeUpgrades, upgradeOf } from '../lib/http/upgrade.js';
import type { Adapter, Channel, ChannelsOptions, CloseReason } from '../lib/index.js';
import { resolveOptions } from '../lib/options.js';
import { deferred, Inbox, openSse, openWebSocket, serve, withTimeout, type Served, type SseStream } from './support/harness.js';
import { FrameReader, rawWebSocket } from './support/live-server.js';

interface Opened {
  channel: Channel;
  req: IncomingMessage;
  closed: Promise<CloseReason>;
}

/**
 * A hub behind a real server. Every request gets its channel from the hub (a session when it
 * asks with `ecs=new`); `/plain` answers without touching it; every other path claims it
 * with onClose and hands it to the test.
 */
async function hubServer(t: TestContext, options: ChannelsOptions = {}): Promise<{ hub: ChannelHub; served: Served; opened: Inbox<Opened> }> {
  const hub = new ChannelHub(resolveOptions({ heartbeat: 0, ...options }));
  const opened = new Inbox<Opened>();
  const served = await serve(t, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const openSession = url.searchParams.get('ecs') === 'new' ? { poll: url.searchParams.get('ect') === 'poll' } : undefined;
    const channel = hub.createChannel({ req, res, upgrade: upgradeOf(req) }, openSession);
    if (url.pathname === '/plain') return void res.end('plain');
    const closed = deferred<CloseReason>();
    channel.onClose(closed.resolve);
    opened.push({ channel, req, closed: closed.promise });
  });
  routeUpgrades(served.server, { isClosing: () => hub.closing, reportError: (error) => hub.reportError(error) });
  t.after(() => withTimeout(hub.close(), 2000, 'hub.close()'));
  return { hub, served, opened };
}

async function openPollSession(served: Served, opened: Inbox<Opened>): Promise<Opened> {
  const first = await fetch(`${served.url}/live?ecs=new&ect=poll`);
  assert.equal(first.status, 200);
  await first.arrayBuffer();
  return opened.next();
}

/** The text a stream receives until it holds `end`. */
async function readUntil(stream: SseStream, end: string): Promise<string> {
  let text = '';
  while (!text.includes(end)) text += await stream.chunks.next();
  return text;
}

describe('ChannelHub', () => {
  describe('stats()', () => {
    it('counts open channels per transport, and messages sent, received and queued for absent clients', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      const ws = await openWebSocket(t, `${served.wsUrl}/live`);
      const wsChannel = await opened.next();
      const received = deferred<void>();
      wsChannel.channel.onReceive(() => received.resolve());
      const sse = await openSse(t, `${served.url}/live`);
      (await opened.next()).channel.send('to sse');
      await sse.events.next();
      const longPoll = fetch(`${served.url}/live`);
      longPoll.catch(() => undefined); // awaited below; a failed assertion before must not leave it unhandled
      await opened.next();
      const poll = await openPollSession(served, opened);
      poll.channel.send('a');
      poll.channel.send('b');
      ws.send('hello');
      await withTimeout(received.promise, 2000, 'the WebSocket message');
      assert.deepEqual(hub.stats(), { open: { websocket: 1, sse: 1, http: 1, poll: 1 }, sent: 3, dropped: 0, received: 1, queued: 2, refused: { maxChannels: 0, maxChannelsPerIp: 0 }, handshakesWaiting: 0 });

      ws.close(1000);
      assert.equal(await withTimeout(wsChannel.closed, 2000, 'the WebSocket close'), 'normal');
      assert.deepEqual(hub.stats().open, { websocket: 0, sse: 1, http: 1, poll: 1 });
      await hub.close();
      await (await longPoll).arrayBuffer();
    });
  });

  describe('the open set and the session store', () => {
    it('holds a channel from its claim to its close, never one whose request was answered without it', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      assert.equal(await (await fetch(`${served.url}/plain`)).text(), 'plain');
      assert.equal(hub.open.size, 0);
      const sse = await openSse(t, `${served.url}/live`);
      const { channel } = await opened.next();
      assert.deepEqual([...hub.open], [coreOf(channel)]);
      channel.close();
      assert.equal(hub.open.size, 0);
      await sse.ended;
    });

    it('finds a session by id while it is open; only a closed polling session is kept for its next poll', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      await openSse(t, `${served.url}/live?ecs=new`);
      const sse = await opened.next();
      const poll = await openPollSession(served, opened);
      assert.equal(hub.sessions.find(sse.channel.id), coreOf(sse.channel));
      assert.equal(hub.sessions.find(poll.channel.id), coreOf(poll.channel));
      sse.channel.close();
      poll.channel.close();
      assert.equal(hub.sessions.find(sse.channel.id), undefined);
      assert.equal(hub.sessions.find(poll.channel.id), undefined);
      assert.equal(hub.sessions.takeClosed(sse.channel.id), undefined, 'a stream learns of the close at once');
      assert.equal(hub.sessions.takeClosed(poll.channel.id), coreOf(poll.channel));
    });

    it('keeps no closed polling session once shutting down', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      const poll = await openPollSession(served, opened);
      await hub.close();
      assert.equal(await poll.closed, 'shutdown');
      assert.equal(hub.sessions.takeClosed(poll.channel.id), undefined);
      assert.equal(hub.sessions.size, 0);
    });
  });

  describe('the heartbeat sweep', () => {
    it('pings WebSockets and writes SSE comments each period, and closes a WebSocket that missed two pings with client-away', async (t) => {
      t.mock.timers.enable({ apis: ['setInterval'] });
      const { served, opened } = await hubServer(t, { heartbeat: 1000 });
      const silent = await rawWebSocket(served.port, '/live?who=silent');
      t.after(() => silent.socket.destroy());
      const silentChannel = await opened.next();
      const frames = new Inbox<number>();
      const reader = new FrameReader();
      silent.socket.on('data', (chunk: Buffer) => reader.push(chunk).forEach((frame) => frames.push(frame.opcode)));
      silent.socket.resume();
      const lively = await openWebSocket(t, `${served.wsUrl}/live?who=lively`);
      const livelyChannel = await opened.next();
      const heard = new Inbox<string>();
      livelyChannel.channel.onReceive((m) => heard.push(String(m)));
      // ws answers the ping itself; the message after it tells the test the pong is in.
      lively.on('ping', () => lively.send('pinged'));
      const sse = await openSse(t, `${served.url}/live`);
      await opened.next();

      for (let period = 1; period <= 2; period++) {
        t.mock.timers.tick(1000);
        assert.equal(await frames.next(), 0x9, `ping ${period}`);
        assert.equal(await sse.chunks.next(), ':\n\n');
        assert.equal(await heard.next(), 'pinged');
      }
      assert.equal(silentChannel.channel.isOpen, true, 'two unanswered pings are allowed');
      t.mock.timers.tick(1000);
      assert.equal(await withTimeout(silentChannel.closed, 2000, 'the silent close'), 'client-away');
      await withTimeout(once(silent.socket, 'close'), 2000, 'the silent socket to be dropped');
      assert.equal(await heard.next(), 'pinged');
      assert.equal(livelyChannel.channel.isOpen, true);
    });

    it('runs one timer: stopped when the last channel closes, started again with the next', async (t) => {
      t.mock.timers.enable({ apis: ['setInterval'] });
      const { served, opened } = await hubServer(t, { heartbeat: 1000 });
      await openSse(t, `${served.url}/live`);
      (await opened.next()).channel.close();
      const stream = await openSse(t, `${served.url}/live`);
      const { channel } = await opened.next();
      t.mock.timers.tick(1000);
      channel.send('marker'); // same tick: whatever the sweep wrote comes before it
      assert.equal(await readUntil(stream, 'marker'), ':\n\ndata: marker\n\n', 'one comment, not one per timer started');
    });

    it('writes no heartbeat with heartbeat 0', async (t) => {
      t.mock.timers.enable({ apis: ['setInterval'] });
      const { served, opened } = await hubServer(t, { heartbeat: 0 });
      const stream = await openSse(t, `${served.url}/live`);
      const { channel } = await opened.next();
      t.mock.timers.tick(60_000);
      channel.send('marker');
      assert.equal(await readUntil(stream, 'marker'), 'data: marker\n\n');
    });
  });

  describe('error listeners', () => {
    it('hands every error to every listener as an Error, until a listener is removed', () => {
      const hub = new ChannelHub(resolveOptions({ heartbeat: 0 }));
      const first: Error[] = [];
      const second: Error[] = [];
      const toFirst = (error: Error) => first.push(error);
      hub.onError(toFirst);
      hub.onError((error) => second.push(error));
      const failure = new Error('failure');
      hub.reportError(failure);
      hub.reportError('not an Error');
      assert.deepEqual(first, [failure, new Error('not an Error')]);
      assert.ok(first[1] instanceof Error);
      hub.offError(toFirst);
      hub.reportError(failure);
      assert.equal(first.length, 2);
      assert.deepEqual(second, [failure, new Error('not an Error'), failure]);
    });

    it('says on stderr that a listener threw, and still hands the error to the others', (t) => {
      const printed = t.mock.method(console, 'error', () => undefined);
      const hub = new ChannelHub(resolveOptions({ heartbeat: 0 }));
      const heard: Error[] = [];
      const listenerFailure = new Error('listener');
      hub.onError(() => {
        throw listenerFailure;
      });
      hub.onError((error) => heard.push(error));
      const failure = new Error('reported');
      hub.reportError(failure);
      assert.deepEqual(heard, [failure]);
      assert.deepEqual(
        printed.mock.calls.map((call) => call.arguments),
        [['express-channel: a live.on("error") listener threw:', listenerFailure, 'while handling:', failure]],
      );
    });

    it('prints an error nobody listens for, and carries on', (t) => {
      const printed = t.mock.method(console, 'error', () => undefined);
      const hub = new ChannelHub(resolveOptions({ heartbeat: 0 }));
      const failure = new Error('unheard');
      hub.reportError(failure);
      assert.deepEqual(
        printed.mock.calls.map((call) => call.arguments),
        [['express-channel:', failure]],
      );
    });
  });

  describe('close()', () => {
    it('closes every open channel with shutdown and resolves once their close handlers ran', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      const ws = new WebSocket(`${served.wsUrl}/live`);
      t.after(() => ws.terminate());
      const wsClosed = once(ws, 'close');
      const channels = [await opened.next()];
      await openSse(t, `${served.url}/live`);
      channels.push(await opened.next(), await openPollSession(served, opened));
      const reasons: CloseReason[] = [];
      for (const { channel } of channels) channel.onClose((reason) => reasons.push(reason));
      await hub.close();
      assert.equal(hub.closing, true);
      assert.deepEqual(reasons, ['shutdown', 'shutdown', 'shutdown']);
      assert.equal(hub.open.size, 0);
      assert.equal((await withTimeout(wsClosed, 2000, 'the close frame'))[0], 1001);
    });

    it('closes every other channel and reports the failure when closing one of them throws', async (t) => {
      const { hub, served, opened } = await hubServer(t);
      const errors: Error[] = [];
      hub.onError((error) => errors.push(error));
      await openSse(t, `${served.url}/live?who=failing`);
      const failing = coreOf((await opened.next()).channel);
      await openSse(t, `${served.url}/live?who=other`);
      const other = await opened.next();
      const failure = new Error('injected: close');
      const close = failing.close.bind(failing);
      // A failure injected into one channel's close (as spec/library-failures.spec.ts does);
      // the real close runs afterwards, so the harness can finish.
      failing.close = () => {
        failing.close = close;
        throw failure;
      };
      // close() resolves (it never rejects): the failure reaches `errors` only as reported.
      await withTimeout(hub.close(), 2000, 'hub.close()');
      assert.equal(other.channel.isOpen, false, 'the other channel was closed too');
      assert.deepEqual(errors, [failure]);
    });

    it('closes the adapter after the channels, also when none is open', async (t) => {
      const seen: number[] = [];
      let hub: ChannelHub | undefined;
      const adapter: Adapter = {
        publish() {},
        subscribe() {},
        close() {
          seen.push(hub?.open.size ?? -1);
        },
      };
      const server = await hubServer(t, { adapter });
      hub = server.hub;
      await openSse(t, `${server.served.url}/live`);
      await server.opened.next();
      await hub.close();
      assert.deepEqual(seen, [0], 'once, with every channel gone');
      const idle = new ChannelHub(resolveOptions({ heartbeat: 0, adapter }));
      hub = idle;
      await idle.close();
      assert.deepEqual(seen, [0, 0]);
    });
  });
});
