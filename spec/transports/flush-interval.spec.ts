// channels({ flushInterval }): a latency budget. Writes to a socket are held up to that long
// and leave together. Tested functionally, on real sockets: what is held keeps its order (with
// what ws writes itself too), heartbeats go on, a close lets out what is held first, held
// bytes count against maxBufferedBytes without making a reading client slow, and sessions
// acknowledge and replay as they do without a budget. No assertion is about time: where a
// test needs writes to still be held, the budget is a second and the test does a few ticks.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import type { Channel, ChannelsOptions, CloseReason } from '../../lib/index.js';
import { holdFor, uncorkNow } from '../../lib/transports/cork.js';
import { openSse, withTimeout } from '../support/harness.js';
import { Inbox, rawSse, rawWebSocket, startLiveServer, type LiveServer } from '../support/live-server.js';
import { SessionPeer, type PeerTransport } from '../support/session-peer.js';

// Long enough that a test's few ticks always run inside it; nothing waits for it to pass.
const HELD = 1000;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stream that records how many chunks each underlying write carried. */
function batchRecorder(): { stream: Writable; batches: number[]; written: Promise<void> } {
  const batches: number[] = [];
  let wrote!: () => void;
  const written = new Promise<void>((resolve) => (wrote = resolve));
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      batches.push(1);
      wrote();
      callback();
    },
    writev(chunks, callback) {
      batches.push(chunks.length);
      wrote();
      callback();
    },
  });
  return { stream, batches, written };
}

/** Counts the writes that reach a server-side socket (a writev is one). */
function countWrites(t: TestContext, socket: Socket): { count: number } {
  const calls = { count: 0 };
  const target = socket as Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
  const { _write, _writev } = target;
  target._write = function (...args: unknown[]) {
    calls.count++;
    _write.apply(this, args);
  };
  target._writev = function (...args: unknown[]) {
    calls.count++;
    _writev.apply(this, args);
  };
  t.after(() => {
    target._write = _write;
    target._writev = _writev;
  });
  return calls;
}

/** A server whose /feed route puts each channel in group 'feed' and hands it to the test. */
async function feedServer(t: TestContext, options: ChannelsOptions): Promise<{ s: LiveServer; joined: Inbox<Channel> }> {
  const joined = new Inbox<Channel>();
  const s = await startLiveServer({ heartbeat: 0, ...options }, (app, live) => {
    app.get('/feed', (req) => {
      live.group('feed').add(req.channel!);
      joined.push(req.channel!);
    });
  });
  t.after(() => s.close());
  return { s, joined };
}

async function openFeedWebSocket(t: TestContext, s: LiveServer, joined: Inbox<Channel>): Promise<{ ws: WebSocket; received: Inbox<string>; channel: Channel }> {
  const ws = new WebSocket(s.wsUrl('/feed'));
  t.after(() => ws.terminate());
  const received = new Inbox<string>();
  ws.on('message', (data: Buffer) => received.push(data.toString()));
  const before = joined.items.length;
  await once(ws, 'open');
  const all = await joined.untilCount(before + 1);
  return { ws, received, channel: all[before]! };
}

describe('holdFor (the latency budget)', () => {
  it('holds writes made in separate ticks and lets them out as one writev when the budget ends', async () => {
    const { stream, batches, written } = batchRecorder();
    const hold = holdFor(50);
    for (const text of ['a', 'b', 'c']) {
      hold(stream);
      stream.write(text);
      await turn();
    }
    assert.equal(stream.writableCorked, 1, 'corked once however often it is held');
    await written;
    assert.deepEqual(batches, [3]);
    assert.equal(stream.writableCorked, 0);
  });

  it('is the per-tick cork at 0', () => {
    assert.equal(holdFor(0), holdFor(0));
    const { stream } = batchRecorder();
    holdFor(0)(stream);
    assert.equal(stream.writableCorked, 1);
    assert.equal(uncorkNow(stream), true);
  });

  it('leaves alone a cork that is not its own after uncorkNow lifted its own early', async () => {
    const { stream } = batchRecorder();
    const other = batchRecorder();
    const hold = holdFor(20);
    hold(stream);
    assert.equal(uncorkNow(stream), true);
    stream.cork(); // someone else's (Node's http corks for its own writes)
    hold(other.stream); // the same batch: its flush comes to both
    other.stream.write('x');
    await other.written;
    assert.equal(stream.writableCorked, 1, 'the flush did not lift the other cork');
    stream.uncork();
  });
});

describe('a WebSocket channel with a latency budget', () => {
  it('holds broadcasts made in separate ticks and sends them, in order, with ws.send frames between them, in one write', async (t) => {
    const { s, joined } = await feedServer(t, { flushInterval: HELD });
    const { received, channel } = await openFeedWebSocket(t, s, joined);
    const writes = countWrites(t, [...s.sockets][0]!);
    const expected: string[] = [];
    for (let i = 0; i < 10; i++) {
      // A broadcast's frame is written straight to the socket; a send goes through ws's sender.
      if (i % 2 === 0) s.live.group('feed').broadcast(`b${i}`);
      else channel.send(`s${i}`);
      expected.push(i % 2 === 0 ? `b${i}` : `s${i}`);
      await turn();
    }
    assert.equal(writes.count, 0, 'held, not written yet');
    assert.deepEqual(await received.untilCount(10, 3 * HELD), expected);
    assert.equal(writes.count, 1);
  });

  it('lets out what is held before its close frame, on close() and on live.close()', async (t) => {
    const { s, joined } = await feedServer(t, { flushInterval: HELD });
    const one = await openFeedWebSocket(t, s, joined);
    const two = await openFeedWebSocket(t, s, joined);
    const order = (ws: WebSocket, received: Inbox<string>): Promise<string[]> =>
      new Promise((resolve) => ws.on('close', (code) => resolve([...received.items, `close ${code}`])));
    const oneOrder = order(one.ws, one.received);
    const twoOrder = order(two.ws, two.received);
    const [oneSocket, twoSocket] = [...s.sockets];
    const writes = [countWrites(t, oneSocket!), countWrites(t, twoSocket!)];
    for (let i = 0; i < 3; i++) {
      s.live.group('feed').broadcast(`m${i}`);
      await turn();
    }
    assert.deepEqual(writes.map((w) => w.count), [0, 0], 'held');
    assert.equal(one.channel.close(), true);
    assert.deepEqual(writes.map((w) => w.count), [2, 0], 'the held frames, then the close frame, written at once');
    assert.deepEqual(await oneOrder, ['m0', 'm1', 'm2', 'close 1000']);
    s.live.group('feed').broadcast('last');
    await turn();
    await s.live.close();
    assert.deepEqual(await twoOrder, ['m0', 'm1', 'm2', 'last', 'close 1001']);
  });

  it('keeps its heartbeats: a ping leaves at once, behind what is held, and its pong keeps the channel open', async (t) => {
    // Held for longer than three heartbeat periods, a ping would be answered too late.
    const { s, joined } = await feedServer(t, { flushInterval: HELD, heartbeat: 20 });
    const { ws, channel } = await openFeedWebSocket(t, s, joined);
    const events: string[] = [];
    ws.on('message', (data: Buffer) => events.push(data.toString()));
    const pings = new Inbox<number>();
    ws.on('ping', () => {
      events.push('ping');
      pings.push(events.length - 1);
    });
    for (let i = 0; i < 10; i++) {
      s.live.group('feed').broadcast(`m${i}`);
      // The next ping is written after this broadcast (this runs before any timer does).
      const at = (await pings.untilCount(pings.items.length + 1)).at(-1)!;
      assert.ok(events.indexOf(`m${i}`) !== -1 && events.indexOf(`m${i}`) < at, `m${i} arrived before the ping written after it`);
    }
    assert.equal(channel.isOpen, true, 'the peer answered every ping in time');
    assert.deepEqual(
      events.filter((e) => e !== 'ping'),
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });
});

describe('maxBufferedBytes with a latency budget', () => {
  it('counts held bytes but lifts its own hold before judging: a reading member is not slow', async (t) => {
    const { s, joined } = await feedServer(t, { flushInterval: HELD, maxBufferedBytes: 4096 });
    const { received, channel } = await openFeedWebSocket(t, s, joined);
    const text = (i: number): string => `${i}:`.padEnd(1024, 'x');
    for (let i = 0; i < 20; i++) {
      s.live.group('feed').broadcast(text(i));
      await turn();
    }
    assert.deepEqual(await received.untilCount(20, 3 * HELD), Array.from({ length: 20 }, (_, i) => text(i)));
    assert.equal(channel.isOpen, true);
    assert.equal(s.live.stats().dropped, 0);
  });

  for (const transport of ['websocket', 'sse'] as const) {
    it(`closes a ${transport} member that stopped reading with slow-consumer, and the others get everything`, async (t) => {
      const limit = 64 * 1024;
      const { s, joined } = await feedServer(t, { flushInterval: 10, maxBufferedBytes: limit });
      // Reads nothing past its response head.
      const slow = transport === 'websocket' ? await rawWebSocket(s.port, '/feed') : await rawSse(s.port, '/feed');
      t.after(() => slow.socket.destroy());
      const [slowChannel] = await joined.untilCount(1);
      const slowClosed = new Promise<CloseReason>((resolve) => slowChannel!.onClose(resolve));
      const fast = await openFeedWebSocket(t, s, joined);
      const message = (i: number): string => `${i}:`.padEnd(8192, 'x');
      let sent = 0;
      // Far more than loopback's kernel buffers take, a few a turn, so the budget holds them.
      while (slowChannel!.isOpen && sent < 8000) {
        s.live.group('feed').broadcast(message(sent++));
        if (sent % 4 === 0) await fast.received.untilCount(sent);
      }
      assert.equal(await slowClosed, 'slow-consumer');
      s.live.group('feed').broadcast(message(sent++));
      const got = await fast.received.untilCount(sent);
      assert.ok(got.every((text, i) => text === message(i)), 'the fast member got every message, in order');
    });
  }
});

describe('an SSE channel with a latency budget', () => {
  it('holds events of separate ticks, keeps their order, and lets them out before the end of the stream', async (t) => {
    const { s, joined } = await feedServer(t, { flushInterval: HELD });
    const stream = await openSse(t, s.url('/feed'));
    const [channel] = await joined.untilCount(1);
    for (let i = 0; i < 5; i++) {
      if (i % 2 === 0) s.live.group('feed').broadcast(`b${i}`);
      else channel!.send(`s${i}`, { event: 'own' });
      await turn();
    }
    channel!.close();
    const events: string[] = [];
    for (let i = 0; i < 5; i++) {
      const event = await stream.events.next(3 * HELD);
      events.push(`${event.event ?? 'message'}:${event.data}`);
    }
    await stream.ended;
    assert.deepEqual(events, ['message:b0', 'own:s1', 'message:b2', 'own:s3', 'message:b4']);
  });

  it('sends its heartbeat comments behind held events', async (t) => {
    const { s, joined } = await feedServer(t, { flushInterval: 30, heartbeat: 10 });
    const stream = await openSse(t, s.url('/feed'));
    const [channel] = await joined.untilCount(1);
    s.live.group('feed').broadcast('one');
    assert.equal((await stream.events.next(3000)).data, 'one');
    for (let i = 0; i < 3; i++) await stream.comments.next(3000);
    assert.equal(channel!.isOpen, true);
  });
});

describe('an HTTP stream with a latency budget', () => {
  it('holds chunks of separate ticks and sends them, in order, before the end of the response; the keep-alive socket serves the next request', async (t) => {
    const s = await startLiveServer({ heartbeat: 0, flushInterval: HELD }, (app) => {
      app.get('/stream', async (req) => {
        const ch = req.channel!;
        for (let i = 0; i < 5; i++) {
          ch.send(`c${i};`, { close: false });
          await turn();
        }
        ch.close();
      });
      app.get('/plain', (_req, res) => {
        res.send('plain');
      });
    });
    t.after(() => s.close());
    const first = await withTimeout(fetch(s.url('/stream')), 3 * HELD, 'the stream');
    assert.equal(await first.text(), 'c0;c1;c2;c3;c4;');
    const second = await withTimeout(fetch(s.url('/plain')), 3 * HELD, 'the next request');
    assert.equal(await second.text(), 'plain');
  });
});

describe('a poll with a latency budget', () => {
  it('answers with the messages of separate ticks together, in order; the first answer (the hello) is not held', async (t) => {
    const channels = new Inbox<Channel>();
    const s = await startLiveServer({ heartbeat: 0, flushInterval: HELD }, (app) => {
      app.get('/live', (req) => {
        req.channel!.onClose(() => undefined); // claims it
        channels.push(req.channel!);
      });
    });
    t.after(() => s.close());
    const first = (await (await withTimeout(fetch(s.url('/live?ecs=new&ect=poll')), HELD / 2, 'the first poll')).json()) as {
      session: string;
      secret: string;
      messages: unknown[];
    };
    assert.deepEqual(first.messages, []);
    const [channel] = await channels.untilCount(1);
    // A poll that finds messages waiting is answered at once: send once it is held.
    const arrived = once(s.server, 'request');
    const poll = fetch(s.url(`/live?ecs=${first.session}&eca=0&ect=poll`), { headers: { 'ec-secret': first.secret } });
    await arrived;
    await turn();
    for (let i = 1; i <= 5; i++) {
      channel!.send(`m${i}`);
      await turn();
    }
    const answer = (await (await withTimeout(poll, 3 * HELD, 'the second poll')).json()) as { messages: unknown[] };
    assert.deepEqual(answer.messages, ['m1', 'm2', 'm3', 'm4', 'm5']);
  });
});

describe('sessions with a latency budget', () => {
  for (const transport of ['websocket', 'sse', 'poll'] as PeerTransport[]) {
    it(`delivers every message once and in order across cuts on ${transport}, held writes lost in a cut replayed`, async (t) => {
      const channelsSeen: Channel[] = [];
      const s = await startLiveServer({ heartbeat: 0, flushInterval: 10, pollTimeout: 2000 }, (app) => {
        app.get('/live', (req) => {
          channelsSeen.push(req.channel!);
          req.channel!.onReceive(() => undefined);
        });
      });
      t.after(() => s.close());
      const peer = new SessionPeer(s.url(''), '/live');
      const total = 300;
      let done = false;
      const driver = (async () => {
        while (!done) {
          await peer.connect(transport).catch(() => undefined);
          await Promise.race([peer.ended(), peer.waitFor(total)]);
          if (peer.messages.length >= total) done = true;
        }
      })();
      await peer.connected();
      const channel = channelsSeen[0]!;
      for (let n = 1; n <= total; n++) {
        assert.equal(channel.send(String(n)), true);
        if (n % 30 === 0) {
          await peer.connected();
          // Cut with writes still held: they never reached the client and must be replayed.
          for (const socket of s.sockets) socket.destroy();
        }
        await turn();
      }
      await withTimeout(driver, 30_000, `all ${total} messages (got ${peer.messages.length})`);
      peer.cut();
      assert.deepEqual(peer.errors, []);
      assert.equal(peer.messages.length, total);
      assert.ok(peer.messages.every((m, i) => m === String(i + 1)), 'every number once, in order');
      assert.equal(channelsSeen.length, 1, 'one channel: every reconnect resumed it');
    });
  }
});
