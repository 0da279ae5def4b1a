// Flow control: a client that stops reading must not make the server's memory grow, nor slow
// the other members. The slow client is a bare TCP socket that completes its handshake (or
// reads its SSE headers) and then pauses; the kernel's socket buffers fill first (a few MB on
// loopback), then the server's own buffer, which is what maxBufferedBytes bounds.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { EventSource } from 'eventsource';
import { createParser } from 'eventsource-parser';
import WebSocket from 'ws';
import { channels, type BufferPolicy, type Channel, type CloseReason } from '../../lib/index.js';
import { withTimeout } from '../support/harness.js';
import { FrameReader, Inbox, rawSse, rawWebSocket, startLiveServer, type LiveServer, type RawClient } from '../support/live-server.js';

const LIMIT = 64 * 1024;
const MESSAGE_BYTES = 8 * 1024;
const BATCH = 4; // messages per turn: 32 KiB, so a member that keeps reading stays under LIMIT
const MAX_MESSAGES = 8000; // 64 MB: far more than loopback's kernel buffers can absorb
// A server frame adds at most 14 header bytes to its payload, an SSE event its `data: ` and
// blank line: the limit is checked against the payload, so that is what it may go over by.
const FRAMING_SLACK = 64;

type SlowTransport = 'websocket' | 'sse';

function message(seq: number): string {
  const head = `${seq}:`;
  return head + 'x'.repeat(MESSAGE_BYTES - head.length);
}

interface Setup {
  s: LiveServer;
  slow: RawClient;
  slowChannel: Channel;
  slowSocket: Socket;
  slowClosed: Promise<CloseReason>;
  fastWs: Inbox<string>;
  fastSse: Inbox<string>;
}

async function setUp(t: TestContext, transport: SlowTransport, bufferPolicy: BufferPolicy): Promise<Setup> {
  const joined = new Inbox<Channel>();
  const s = await startLiveServer({ heartbeat: 0, maxBufferedBytes: LIMIT, bufferPolicy }, (app, live) => {
    app.get('/feed', (req) => {
      live.group('feed').add(req.channel!);
      joined.push(req.channel!);
    });
  });
  t.after(() => s.close());

  const slow = transport === 'websocket' ? await rawWebSocket(s.port, '/feed') : await rawSse(s.port, '/feed');
  t.after(() => slow.socket.destroy());
  assert.equal(slow.status, transport === 'websocket' ? 101 : 200);
  const [slowChannel] = await joined.untilCount(1);
  const slowClosed = new Promise<CloseReason>((resolve) => slowChannel!.onClose(resolve));
  const slowSocket = [...s.sockets].find((socket) => socket.remotePort === slow.socket.localPort)!;

  const fastWs = new Inbox<string>();
  const ws = new WebSocket(s.wsUrl('/feed'));
  ws.on('message', (data: Buffer) => fastWs.push(data.toString()));
  t.after(() => ws.terminate());
  const fastSse = new Inbox<string>();
  const es = new EventSource(s.url('/feed'));
  es.addEventListener('message', (event) => fastSse.push(event.data));
  t.after(() => es.close());
  await Promise.all([once(ws, 'open'), once(es, 'open'), joined.untilCount(3)]);
  return { s, slow, slowChannel: slowChannel!, slowSocket, slowClosed, fastWs, fastSse };
}

/**
 * Broadcasts BATCH messages a turn, each turn waiting until both fast members have read all
 * so far, until `stop()` or MAX_MESSAGES. Numbers them from `from`. Returns the next number and the most bytes seen
 * waiting in the slow member's server-side socket.
 */
async function broadcastUntil(setup: Setup, stop: () => boolean, from = 0): Promise<{ sent: number; maxBuffered: number }> {
  const feed = setup.s.live.group('feed');
  let sent = from;
  let maxBuffered = 0;
  while (sent < MAX_MESSAGES && !stop()) {
    for (let i = 0; i < BATCH; i++) feed.broadcast(message(sent++));
    maxBuffered = Math.max(maxBuffered, setup.slowSocket.writableLength);
    await Promise.all([setup.fastWs.untilCount(sent), setup.fastSse.untilCount(sent)]);
  }
  return { sent, maxBuffered };
}

function assertReceivedAll(inbox: Inbox<string>, count: number): void {
  assert.equal(inbox.items.length, count);
  inbox.items.forEach((text, seq) => assert.equal(text, message(seq)));
}

/** Reads the slow client's messages (WebSocket frames or SSE events) once it reads again. */
function readMessages(client: RawClient, transport: SlowTransport): Inbox<string> {
  const inbox = new Inbox<string>();
  if (transport === 'websocket') {
    const reader = new FrameReader();
    const onData = (chunk: Buffer): void => {
      for (const frame of reader.push(chunk)) if (frame.opcode === 1) inbox.push(frame.payload.toString());
    };
    onData(client.rest);
    client.socket.on('data', onData);
  } else {
    const parser = createParser({ onEvent: (event) => inbox.push(event.data) });
    parser.feed(client.rest.toString());
    client.socket.setEncoding('utf8');
    client.socket.on('data', (text: string) => parser.feed(text));
  }
  client.socket.resume();
  return inbox;
}

for (const transport of ['websocket', 'sse'] as const) {
  describe(`a ${transport} member that stops reading`, () => {
    it(`is closed with slow-consumer once its buffer passes maxBufferedBytes (policy 'close'), the others get everything`, async (t) => {
      const setup = await setUp(t, transport, 'close');
      const { sent, maxBuffered } = await broadcastUntil(setup, () => !setup.slowChannel.isOpen);
      t.diagnostic(`slow ${transport} member closed after ${sent} messages of ${MESSAGE_BYTES} bytes; server buffer peaked at ${maxBuffered} bytes`);

      assert.ok(sent < MAX_MESSAGES, 'the slow member was closed before the broadcasts ran out');
      assert.equal(await setup.slowClosed, 'slow-consumer');
      assert.equal(setup.slowChannel.closeReason, 'slow-consumer');
      assert.ok(maxBuffered <= LIMIT + FRAMING_SLACK, `server buffer peaked at ${maxBuffered} bytes`);
      assert.equal(setup.s.live.group('feed').size, 2, 'the slow member left the group');
      // Its server-side socket is let go too, not kept with its unread bytes (within the 1 s grace).
      if (!setup.slowSocket.destroyed) await withTimeout(once(setup.slowSocket, 'close'), 3000, "the slow member's socket to close");
      assert.equal(setup.slowSocket.destroyed, true);

      // The others go on being served.
      let turns = 0;
      const more = await broadcastUntil(setup, () => turns++ === 3, sent);
      assertReceivedAll(setup.fastWs, more.sent);
      assertReceivedAll(setup.fastSse, more.sent);
      assert.equal(setup.s.live.stats().dropped, 0);
    });

    it(`skips messages for it and counts them in stats().dropped (policy 'drop'), and it stays open`, async (t) => {
      const setup = await setUp(t, transport, 'drop');
      const { s, slowChannel, slowSocket } = setup;
      const { sent, maxBuffered } = await broadcastUntil(setup, () => s.live.stats().dropped >= 100);
      const { dropped } = s.live.stats();
      t.diagnostic(`${dropped} of ${sent} messages dropped for the slow ${transport} member; server buffer peaked at ${maxBuffered} bytes`);

      assert.ok(dropped >= 100 && sent < MAX_MESSAGES);
      assert.equal(slowChannel.isOpen, true);
      assert.ok(maxBuffered <= LIMIT + FRAMING_SLACK, `server buffer peaked at ${maxBuffered} bytes`);
      assertReceivedAll(setup.fastWs, sent);
      assertReceivedAll(setup.fastSse, sent);
      // A send to a full channel is dropped too, and says so.
      assert.equal(slowChannel.send(message(-1)), false);
      assert.equal(s.live.stats().dropped, dropped + 1);

      // Once the client reads again it gets exactly what was not dropped, in order.
      const received = readMessages(setup.slow, transport);
      if (slowSocket.writableLength > 0) await once(slowSocket, 'drain');
      s.live.group('feed').broadcast('end');
      const texts = await received.untilCount(sent - dropped + 1);
      assert.equal(texts.at(-1), 'end');
      const seqs = texts.slice(0, -1).map((text) => Number(text.slice(0, text.indexOf(':'))));
      assert.equal(seqs.length, sent - dropped);
      assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!), 'in order, none twice');
      assert.equal(seqs[0], 0);
    });
  });
}

describe('buffer options', () => {
  it('rejects an unknown bufferPolicy and a non-positive maxBufferedBytes', () => {
    assert.throws(() => channels({ bufferPolicy: 'block' as BufferPolicy }), {
      name: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: `bufferPolicy must be 'close' or 'drop', got "block"`,
    });
    assert.throws(() => channels({ maxBufferedBytes: 0 }), {
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: 'maxBufferedBytes must be a finite number > 0, got 0',
    });
  });

  it('still sends a message bigger than maxBufferedBytes to a member with nothing buffered', async (t) => {
    const joined = new Inbox<Channel>();
    const s = await startLiveServer({ heartbeat: 0, maxBufferedBytes: 1024 }, (app, live) => {
      app.get('/feed', (req) => {
        live.group('feed').add(req.channel!);
        joined.push(req.channel!);
      });
    });
    t.after(() => s.close());
    const ws = new WebSocket(s.wsUrl('/feed'));
    t.after(() => ws.terminate());
    const received = new Inbox<string>();
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    await once(ws, 'open');
    await joined.untilCount(1);
    const big = 'y'.repeat(10 * 1024);
    assert.equal(s.live.group('feed').broadcast(big), 1);
    assert.deepEqual(await received.untilCount(1), [big]);
  });
});
