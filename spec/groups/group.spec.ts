import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { ChannelGroup, type Channel, type CloseReason } from '../../lib/index.js';
import { Inbox, rawSse, startLiveServer, type LiveServer } from '../support/live-server.js';

/** A server whose `/join` route adds each request's channel to `live.group('room')` only. */
async function roomServer(t: TestContext, extra?: ChannelGroup): Promise<{ s: LiveServer; joined: Inbox<Channel> }> {
  const joined = new Inbox<Channel>();
  const s = await startLiveServer({ heartbeat: 0 }, (app, live) => {
    app.get('/join', (req) => {
      const ch = req.channel!;
      live.group('room').add(ch);
      extra?.add(ch);
      joined.push(ch);
    });
    app.get('/idle', (req) => {
      joined.push(req.channel!);
    });
  });
  t.after(() => s.close());
  return { s, joined };
}

interface WsClient {
  ws: WebSocket;
  messages: Inbox<string | Buffer>;
  opened: Promise<unknown>;
}

/** Starts a WebSocket client; `opened` settles when the server completed the handshake. */
function startWebSocket(t: TestContext, url: string): WsClient {
  const ws = new WebSocket(url);
  const messages = new Inbox<string | Buffer>();
  ws.on('message', (data: Buffer, isBinary: boolean) => messages.push(isBinary ? data : data.toString('utf8')));
  t.after(() => ws.terminate());
  const opened = once(ws, 'open');
  opened.catch(() => undefined); // a test that expects no handshake need not await it
  return { ws, messages, opened };
}

async function openWebSocket(t: TestContext, url: string): Promise<WsClient> {
  const client = startWebSocket(t, url);
  await client.opened;
  return client;
}

function openEventSource(t: TestContext, url: string): { es: EventSource; messages: Inbox<MessageEvent<string>> } {
  const es = new EventSource(url);
  const messages = new Inbox<MessageEvent<string>>();
  es.addEventListener('message', messages.push);
  t.after(() => es.close());
  return { es, messages };
}

describe('ChannelGroup', () => {
  it('works standalone: new ChannelGroup() is an empty, unnamed group', () => {
    const group = new ChannelGroup();
    assert.equal(group.name, undefined);
    assert.equal(group.size, 0);
    assert.deepEqual([...group], []);
    assert.equal(group.broadcast('nobody'), 0);
  });

  it('claims an SSE channel on add: a handler that only calls group.add answers with event-stream headers', async (t) => {
    const { s, joined } = await roomServer(t);
    const res = await fetch(s.url('/join'), { headers: { accept: 'text/event-stream' } });
    t.after(() => res.body?.cancel());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const [ch] = await joined.untilCount(1);
    assert.equal(ch?.transport, 'sse');
    assert.equal(s.live.group('room').has(ch!), true);
  });

  it('claims a WebSocket on add: the handshake completes although the handler sends nothing', async (t) => {
    const { s, joined } = await roomServer(t);
    await openWebSocket(t, s.wsUrl('/join'));
    const [ch] = await joined.untilCount(1);
    assert.equal(ch?.transport, 'websocket');
    assert.equal(s.live.group('room').size, 1);
  });

  it('counts a channel once however often it is added, and add returns the group', async (t) => {
    const { s, joined } = await roomServer(t);
    const client = startWebSocket(t, s.wsUrl('/idle'));
    const [ch] = await joined.untilCount(1);
    const group = new ChannelGroup();
    assert.equal(group.add(ch!).add(ch!), group);
    await client.opened; // add claimed it: the handshake went out
    assert.equal(group.size, 1);
    assert.equal(group.has(ch!), true);
  });

  it('delete removes a member and returns whether it was one; has and iteration follow', async (t) => {
    const { s, joined } = await roomServer(t);
    await openWebSocket(t, s.wsUrl('/join'));
    await openWebSocket(t, s.wsUrl('/join'));
    const [a, b] = await joined.untilCount(2);
    const room = s.live.group('room');
    assert.deepEqual([...room], [a, b]);
    assert.equal(room.delete(a!), true);
    assert.equal(room.delete(a!), false);
    assert.equal(room.has(a!), false);
    assert.equal(room.has(b!), true);
    assert.equal(room.size, 1);
    assert.deepEqual([...room], [b]);
    assert.equal(a!.isOpen, true, 'leaving a group does not close the channel');
  });

  it('does not add a closed channel', async (t) => {
    const { s, joined } = await roomServer(t);
    const client = startWebSocket(t, s.wsUrl('/idle'));
    const closed = once(client.ws, 'close');
    const [ch] = await joined.untilCount(1);
    ch!.close();
    const [code] = await closed;
    assert.equal(code, 1000);
    const group = new ChannelGroup();
    group.add(ch!);
    assert.equal(group.size, 0);
    assert.equal(group.has(ch!), false);
  });

  it('broadcast returns the members reached and skips those in except (one or several)', async (t) => {
    const { s, joined } = await roomServer(t);
    const clients = [];
    for (let i = 0; i < 3; i++) clients.push(await openWebSocket(t, s.wsUrl('/join')));
    const [a, b, c] = await joined.untilCount(3);
    const room = s.live.group('room');
    assert.equal(room.broadcast('all'), 3);
    assert.equal(room.broadcast('not a', { except: a! }), 2);
    assert.equal(room.broadcast('only c', { except: new Set([a!, b!]) }), 1);
    assert.equal(room.broadcast('only c again', { except: [a!, b!] }), 1);
    assert.equal(c!.isOpen, true);
    assert.deepEqual(await clients[0]!.messages.untilCount(1), ['all']);
    assert.deepEqual(await clients[1]!.messages.untilCount(2), ['all', 'not a']);
    assert.deepEqual(await clients[2]!.messages.untilCount(4), ['all', 'not a', 'only c', 'only c again']);
  });

  it('broadcasts bytes as binary frames and text as text', async (t) => {
    const { s, joined } = await roomServer(t);
    const { messages } = await openWebSocket(t, s.wsUrl('/join'));
    await joined.untilCount(1);
    const room = s.live.group('room');
    assert.equal(room.broadcast(new Uint8Array([1, 2, 3])), 1);
    assert.equal(room.broadcast('text'), 1);
    const [binary, text] = await messages.untilCount(2);
    assert.deepEqual(binary, Buffer.from([1, 2, 3]));
    assert.equal(text, 'text');
  });

  it('reaches WebSocket, SSE and long-poll members of one group with one broadcast', async (t) => {
    const { s, joined } = await roomServer(t);
    const ws = await openWebSocket(t, s.wsUrl('/join'));
    const sse = openEventSource(t, s.url('/join'));
    const poll = fetch(s.url('/join'));
    const members = await joined.untilCount(3);
    assert.deepEqual(members.map((ch) => ch.transport).sort(), ['http', 'sse', 'websocket']);
    const room = s.live.group('room');

    assert.equal(room.broadcast('hello, everyone'), 3);

    assert.deepEqual(await ws.messages.untilCount(1), ['hello, everyone']);
    const [event] = await sse.messages.untilCount(1);
    assert.equal(event?.data, 'hello, everyone');
    const answer = await poll;
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), 'hello, everyone');
    // A long-poll is answered by its one message (close-after-send) and so leaves the group.
    assert.equal(room.size, 2);
    assert.deepEqual(members.filter((ch) => ch.isOpen).map((ch) => ch.transport).sort(), ['sse', 'websocket']);
  });

  it('sends event and id to SSE members as event:/id: fields', async (t) => {
    const { s, joined } = await roomServer(t);
    const sse = openEventSource(t, s.url('/join'));
    const ws = await openWebSocket(t, s.wsUrl('/join'));
    await joined.untilCount(2);
    const ticks = new Inbox<MessageEvent<string>>();
    sse.es.addEventListener('tick', ticks.push);

    assert.equal(s.live.group('room').broadcast('{"n":1}', { event: 'tick', id: 41 }), 2);

    const [tick] = await ticks.untilCount(1);
    assert.equal(tick?.data, '{"n":1}');
    assert.equal(tick?.lastEventId, '41');
    assert.deepEqual(await ws.messages.untilCount(1), ['{"n":1}'], 'WebSocket members get the data alone');
  });

  it('rejects what it cannot send before writing anything, with a stable code', async (t) => {
    const { s, joined } = await roomServer(t);
    await openWebSocket(t, s.wsUrl('/join'));
    await joined.untilCount(1);
    const room = s.live.group('room');
    const sentBefore = s.live.stats().sent;
    assert.throws(() => room.broadcast({ body: 'x' } as unknown as string), {
      name: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_DATA',
      message: 'broadcast() takes a string or a Buffer/Uint8Array, got an object: send JSON.stringify(value), and JSON.parse the text on the client',
    });
    assert.throws(() => room.broadcast(null as unknown as string), {
      code: 'ERR_CHANNEL_INVALID_DATA',
      message: 'broadcast() takes a string or a Buffer/Uint8Array, got null: convert it with String(value) or JSON.stringify(value)',
    });
    assert.throws(() => room.broadcast('x', { exept: [] } as never), { code: 'ERR_CHANNEL_INVALID_OPTION', message: 'broadcast() has no option "exept"; did you mean "except"?' });
    assert.throws(() => room.broadcast('x', { event: 'a\nid: 666' }), {
      name: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_FIELD',
      message: 'SSE event must not contain CR, LF or NUL: "a\\nid: 666"',
    });
    assert.equal(s.live.stats().sent, sentBefore);
  });

  it('lets a closed channel leave every group by itself, whoever closed it', async (t) => {
    const other = new ChannelGroup();
    const { s, joined } = await roomServer(t, other);
    const ws = await openWebSocket(t, s.wsUrl('/join'));
    const sse = await rawSse(s.port, '/join');
    t.after(() => sse.socket.destroy());
    await openWebSocket(t, s.wsUrl('/join'));
    const [wsChannel, sseChannel, serverClosed] = await joined.untilCount(3);
    const room = s.live.group('room');
    assert.equal(room.size, 3);
    assert.equal(other.size, 3);
    const reasons = new Inbox<CloseReason>();
    for (const ch of [wsChannel, sseChannel, serverClosed]) ch!.onClose(reasons.push);

    ws.ws.close(1000);
    sse.socket.destroy();
    serverClosed!.close();

    assert.deepEqual([...(await reasons.untilCount(3))].sort(), ['client-close', 'normal', 'server-close']);
    assert.equal(room.size, 0);
    assert.equal(other.size, 0);
    assert.deepEqual([...room], []);
    assert.equal(room.broadcast('anyone?'), 0);
  });
});
