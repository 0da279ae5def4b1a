import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import type { Channel, CloseReason } from '../lib/index.js';
import { Inbox, rawSse, rawWebSocket, startLiveServer, type LiveServer } from './support/live-server.js';

interface Tracked {
  s: LiveServer;
  joined: Inbox<Channel>;
  reasons: Inbox<CloseReason>;
}

async function shutdownServer(t: TestContext): Promise<Tracked> {
  const joined = new Inbox<Channel>();
  const reasons = new Inbox<CloseReason>();
  const s = await startLiveServer({ heartbeat: 0, shutdownRetry: 2500 }, (app, live) => {
    app.get('/live', (req) => {
      const ch = req.channel!;
      live.group('everyone').add(ch);
      ch.onClose(reasons.push);
      joined.push(ch);
    });
  });
  t.after(() => s.close());
  return { s, joined, reasons };
}

/** Everything a bare socket receives until the server ends the connection. */
function readToEnd(socket: Socket, first: Buffer): Promise<string> {
  let text = first.toString();
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.resume();
  return once(socket, 'end').then(() => text);
}

describe('live.close()', () => {
  it("closes every channel with 'shutdown': WebSocket 1001, SSE with a retry: hint, long-poll answered", async (t) => {
    const { s, joined, reasons } = await shutdownServer(t);
    const ws = new WebSocket(s.wsUrl('/live'));
    t.after(() => ws.terminate());
    const wsClosed = once(ws, 'close');
    await once(ws, 'open');
    const sse = await rawSse(s.port, '/live');
    t.after(() => sse.socket.destroy());
    const sseText = readToEnd(sse.socket, sse.rest);
    const poll = fetch(s.url('/live'));
    await joined.untilCount(3);
    s.live.group('everyone').broadcast('before', { id: 1 }); // answers the long-poll...
    const answered = await poll;
    assert.equal(await answered.text(), 'before');
    const waiting = fetch(s.url('/live')); // ...so a second one waits for the shutdown
    await joined.untilCount(4);
    assert.equal(s.live.channels.size, 3);

    await s.live.close();

    // Resolved only once every channel was gone and its close handlers had run.
    assert.equal(s.live.channels.size, 0);
    assert.deepEqual(s.live.stats().open, { websocket: 0, sse: 0, http: 0, poll: 0 });
    assert.deepEqual(reasons.items, ['server-close', 'shutdown', 'shutdown', 'shutdown']);
    assert.equal(s.live.group('everyone').size, 0);

    const [code] = await wsClosed;
    assert.equal(code, 1001);
    assert.equal(await sseText, 'id: 1\ndata: before\n\nretry: 2500\n\n');
    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), '');
  });

  it('answers WebSocket upgrades after close with 503', async (t) => {
    const { s, joined } = await shutdownServer(t);
    await s.live.close();
    const raw = await rawWebSocket(s.port, '/live');
    t.after(() => raw.socket.destroy());
    assert.equal(raw.status, 503);
    assert.match(raw.head, /\r\nconnection: close/i);

    const ws = new WebSocket(s.wsUrl('/live'));
    ws.on('error', () => undefined); // ws reports the refused handshake as an error too
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    res.setEncoding('utf8');
    let body = '';
    for await (const chunk of res) body += chunk;
    assert.equal(body, 'Server is shutting down');
    assert.equal(joined.items.length, 0, 'the app never saw them');
  });

  it('resolves at once when no channel is open, and again when called twice', async (t) => {
    const { s } = await shutdownServer(t);
    await s.live.close();
    await s.live.close();
    assert.equal(s.live.channels.size, 0);
  });

  it('answers SSE and long-poll channels claimed after close with 503, and they close with shutdown', async (t) => {
    const { s, joined, reasons } = await shutdownServer(t);
    await s.live.close();
    const sse = await fetch(s.url('/live'), { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 503);
    assert.equal(sse.headers.get('retry-after'), '3', 'shutdownRetry (2500 ms) in whole seconds, rounded up');
    assert.equal(await sse.text(), 'Server is shutting down');
    const poll = await fetch(s.url('/live'));
    assert.equal(poll.status, 503);
    await poll.body?.cancel();
    await joined.untilCount(2);
    assert.deepEqual(await reasons.untilCount(2), ['shutdown', 'shutdown']);
    assert.equal(s.live.channels.size, 0);
    assert.equal(s.live.group('everyone').size, 0);
  });
});
