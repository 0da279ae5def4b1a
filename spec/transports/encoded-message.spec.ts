import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import * as wsModule from 'ws';
import WebSocket from 'ws';
import type { Channel } from '../../lib/index.js';
import { LazyEncodedMessage } from '../../lib/transports/encoded-message.js';
import { Inbox, rawSse, startLiveServer, type LiveServer } from '../support/live-server.js';

const MEMBERS = 50;

// ws's frame builder: the one function that turns a payload into WebSocket frame bytes,
// whether ws sends (`ws.send`) or the library frames a broadcast itself.
type FrameFn = (data: Buffer, options: object) => Buffer[];
const { Sender } = wsModule as unknown as { Sender: { frame: FrameFn } };

/** Counts calls to ws's `Sender.frame` until the test ends. */
function countFrames(t: TestContext): { readonly calls: number } {
  const original = Sender.frame;
  const counter = { calls: 0 };
  Sender.frame = function countedFrame(this: unknown, data, options) {
    counter.calls++;
    return original.call(this, data, options);
  };
  t.after(() => {
    Sender.frame = original;
  });
  return counter;
}

/** Records every chunk written to `socket` (server side) from now on. */
function recordWrites(t: TestContext, socket: Socket): unknown[] {
  const chunks: unknown[] = [];
  const write = socket.write;
  socket.write = function recordedWrite(this: Socket, chunk: unknown, ...rest: unknown[]) {
    chunks.push(chunk);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Socket['write'];
  t.after(() => {
    socket.write = write;
  });
  return chunks;
}

async function groupServer(t: TestContext): Promise<{ s: LiveServer; joined: Inbox<Channel> }> {
  const joined = new Inbox<Channel>();
  const s = await startLiveServer({ heartbeat: 0 }, (app, live) => {
    app.get('/join', (req) => {
      live.group('all').add(req.channel!);
      joined.push(req.channel!);
    });
  });
  t.after(() => s.close());
  return { s, joined };
}

async function webSocketMembers(t: TestContext, s: LiveServer, count: number): Promise<Array<Inbox<string>>> {
  const inboxes: Array<Inbox<string>> = [];
  const opened: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(s.wsUrl('/join'));
    const inbox = new Inbox<string>();
    ws.on('message', (data: Buffer) => inbox.push(data.toString('utf8')));
    t.after(() => ws.terminate());
    opened.push(once(ws, 'open'));
    inboxes.push(inbox);
  }
  await Promise.all(opened);
  return inboxes;
}

describe('LazyEncodedMessage', () => {
  it('builds the WebSocket frame and the SSE event once and returns the same bytes after', () => {
    const message = new LazyEncodedMessage('hi', { event: 'greeting', id: 7 });
    const frame = message.forWebSocket();
    assert.equal(message.forWebSocket(), frame);
    assert.deepEqual(Buffer.concat(frame), Buffer.from([0x81, 0x02, 0x68, 0x69]));
    const event = message.forSse();
    assert.equal(message.forSse(), event);
    assert.equal(event.toString(), 'event: greeting\nid: 7\ndata: hi\n\n');
  });

  it('frames bytes as one binary frame, shared by plain and session WebSocket members', () => {
    const message = new LazyEncodedMessage(Buffer.from([1, 2, 3]), {});
    assert.deepEqual(Buffer.concat(message.forWebSocket()), Buffer.from([0x82, 0x03, 1, 2, 3]));
    assert.equal(message.forSessionWebSocket(), message.forWebSocket());
  });

  it('prefixes text with m for session WebSocket members, built once', () => {
    const message = new LazyEncodedMessage('hi', {});
    const frame = message.forSessionWebSocket();
    assert.equal(message.forSessionWebSocket(), frame);
    assert.deepEqual(Buffer.concat(frame), Buffer.from([0x81, 0x03, 0x6d, 0x68, 0x69]));
  });
});

describe('broadcast encodes once', () => {
  it(`builds one WebSocket frame for ${MEMBERS} WebSocket members and writes those same buffers to each socket`, async (t) => {
    const { s, joined } = await groupServer(t);
    const inboxes = await webSocketMembers(t, s, MEMBERS);
    await joined.untilCount(MEMBERS);
    const writes = [...s.sockets].map((socket) => recordWrites(t, socket));
    const frames = countFrames(t);

    assert.equal(s.live.group('all').broadcast('x'.repeat(1000)), MEMBERS);

    assert.equal(frames.calls, 1, 'Sender.frame runs once per broadcast, not once per member');
    const first = writes[0]!;
    assert.ok(first.length > 0);
    for (const chunks of writes) {
      assert.equal(chunks.length, first.length);
      chunks.forEach((chunk, i) => assert.equal(chunk, first[i], 'every member gets the very same Buffer objects'));
    }
    for (const inbox of inboxes) assert.deepEqual(await inbox.untilCount(1), ['x'.repeat(1000)]);

    // The counter does see ws's own path: a per-member send frames again.
    const [member] = await joined.untilCount(MEMBERS);
    member!.send('direct');
    assert.equal(frames.calls, 2);
  });

  it(`writes one SSE event buffer to ${MEMBERS} SSE members`, async (t) => {
    const { s, joined } = await groupServer(t);
    const clients = [];
    for (let i = 0; i < MEMBERS; i++) clients.push(rawSse(s.port, '/join'));
    for (const client of await Promise.all(clients)) t.after(() => client.socket.destroy());
    await joined.untilCount(MEMBERS);
    const writes = [...s.sockets].map((socket) => recordWrites(t, socket));

    assert.equal(s.live.group('all').broadcast('tick', { event: 'clock', id: 1 }), MEMBERS);

    const [event] = writes[0]!;
    assert.ok(Buffer.isBuffer(event));
    assert.equal(event.toString(), 'event: clock\nid: 1\ndata: tick\n\n');
    for (const chunks of writes) {
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0], event, 'every member gets the very same Buffer');
    }
  });

  it('builds one frame and one event for a group mixing WebSocket and SSE members', async (t) => {
    const { s, joined } = await groupServer(t);
    const inboxes = await webSocketMembers(t, s, 5);
    const sse = await Promise.all([1, 2, 3, 4, 5].map(() => rawSse(s.port, '/join')));
    for (const client of sse) t.after(() => client.socket.destroy());
    await joined.untilCount(10);
    const frames = countFrames(t);
    assert.equal(s.live.group('all').broadcast('mixed'), 10);
    assert.equal(frames.calls, 1);
    for (const inbox of inboxes) assert.deepEqual(await inbox.untilCount(1), ['mixed']);
  });
});

describe('LazyEncodedMessage, named messages on sessions', () => {
  it('builds a named message as one `e` frame, once, with its name and its data as JSON (binary in base64)', (t) => {
    const frames = countFrames(t);
    const text = new LazyEncodedMessage('hi', { event: 'chat' });
    const first = text.forSessionWebSocket();
    assert.equal(text.forSessionWebSocket(), first, 'the same frame for every member');
    assert.equal(Buffer.concat(first).subarray(2).toString(), 'e{"event":"chat","data":"hi"}');
    const bytes = new LazyEncodedMessage(Buffer.from([1, 2, 3]), { event: 'blob' });
    assert.equal(Buffer.concat(bytes.forSessionWebSocket()).subarray(2).toString(), 'e{"event":"blob","base64":"AQID"}');
    assert.equal(frames.calls, 2);
  });

  it('sends a named text message on a session SSE stream under its own name, and a named binary one as JSON under ec-binary', () => {
    assert.equal(new LazyEncodedMessage('hi', { event: 'chat' }).forSessionSse().toString(), 'event: chat\ndata: hi\n\n');
    assert.equal(new LazyEncodedMessage(Buffer.from([1, 2, 3]), { event: 'blob' }).forSessionSse().toString(), 'event: ec-binary\ndata: {"event":"blob","base64":"AQID"}\n\n');
    assert.equal(new LazyEncodedMessage(Buffer.from([1, 2, 3]), {}).forSessionSse().toString(), 'event: ec-binary\ndata: AQID\n\n');
  });
});
