// The README's app behind a real nginx, with each config of docs/deployment.md (read from that
// file): where the client ends up, how soon its first message comes, whether SSE events and
// stream chunks pass at once, and that nothing a group counted goes astray. nginx runs from a
// config the test writes, on its own port, and is stopped by its pid (spec/support/nginx.ts).
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { channels, type Channel, type CloseReason, type Message } from '../../lib/index.js';
import { connect, type Connection, type TransportName } from '../../lib/client/node.js';
import { freePort, Inbox, withTimeout } from '../support/harness.js';
import { docsConfig, nginxMissing, startNginx } from '../support/nginx.js';

interface ProxyCase {
  /** The first line of its ```nginx block in docs/deployment.md. */
  config: string;
  /** The transport the client ends up on behind it. */
  transport: TransportName;
  /** Whether it passes SSE events and stream chunks on as they are written. */
  streams: boolean;
}

const cases: ProxyCase[] = [
  { config: 'proxy_pass only', transport: 'sse', streams: true },
  { config: 'websocket', transport: 'websocket', streams: true },
  { config: 'websocket, buffering and gzip', transport: 'websocket', streams: true },
  { config: 'buffers everything', transport: 'poll', streams: false },
];

const skip = nginxMissing('the nginx deployment specs');

/** The README's app (the lobby route), which also greets each session channel, and a route that hands plain SSE/stream channels to the test. */
async function readmeApp(t: TestContext) {
  // A short sessionTimeout, so that a session its client gave up (a held-back SSE) is seen to close.
  const live = channels({ sessionTimeout: 1000 });
  const app = express();
  app.use(live);
  const lobby = live.group('lobby');
  const claimed: Channel[] = [];
  const received: Message[] = [];
  const wanted = { count: -1, resolve: () => {} };
  const receivedCount = (count: number) => new Promise<void>((resolve) => Object.assign(wanted, { count, resolve }));
  const closes = new Map<Channel, Promise<CloseReason>>();
  app.get('/live', (req) => {
    const ch = req.channel!;
    lobby.add(ch);
    ch.onReceive((msg) => {
      received.push(msg);
      if (received.length === wanted.count) wanted.resolve();
      lobby.broadcast(msg, { except: ch });
    });
    closes.set(ch, new Promise((resolve) => ch.onClose(resolve)));
    claimed.push(ch);
    // The client library's channels are greeted; a request a proxy mangled into a plain one
    // gets nothing, as in the README's app, where nothing is sent until someone speaks.
    if (ch.isSession) ch.send('welcome');
  });
  const parked = new Inbox<Channel>();
  app.get('/plain', (req) => parked.push(req.channel!));
  const server = app.listen(0, '127.0.0.1');
  live.attach(server);
  await once(server, 'listening');
  t.after(async () => {
    await live.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { live, lobby, claimed, received, receivedCount, closes, parked, port: (server.address() as AddressInfo).port };
}

async function behindNginx(t: TestContext, config: string) {
  const app = await readmeApp(t);
  const port = await freePort();
  const nginx = await startNginx(t, docsConfig(config, { port, appPort: app.port }), port);
  return { ...app, nginx };
}

/** Connects with the client's defaults; resolves at its first message, with the time it took. */
async function firstMessage(t: TestContext, url: string): Promise<{ conn: Connection; ms: number; data: unknown }> {
  const started = performance.now();
  const conn = connect(url);
  t.after(() => conn.close());
  const [event] = (await withTimeout(once(conn, 'message'), 8000, 'the first message')) as [MessageEvent];
  return { conn, ms: performance.now() - started, data: event.data };
}

/** Collects the client's messages until `count` have arrived. */
function collect(conn: Connection, count: number): Promise<string[]> {
  const got: string[] = [];
  return withTimeout(
    new Promise((resolve) => {
      conn.addEventListener('message', (event) => {
        got.push(String(event.data));
        if (got.length === count) resolve(got);
      });
    }),
    20_000,
    `${count} messages (got ${got.length})`,
  );
}

interface PlainStream {
  channel: Channel;
  /** The next `tick N` the client read. */
  next(): Promise<string>;
}

/** A plain channel on /plain through nginx, an event stream or an HTTP stream after `headers`, with its first tick read. */
async function openPlain(s: Awaited<ReturnType<typeof behindNginx>>, headers: Record<string, string>): Promise<PlainStream> {
  const response = fetch(`${s.nginx.origin}/plain`, { headers });
  const channel = await s.parked.next();
  channel.send('tick 0\n', { close: false }); // the head goes with the first event or chunk
  const next = chunkReader(await withTimeout(response, 2000, 'the response head through nginx'));
  assert.match(await next(), /tick 0/);
  return { channel, next };
}

/** Milliseconds from each of `rounds` sends to its arrival, each sent after the one before arrived; the channel is closed after. */
async function latencies(rounds: number, { channel, next }: PlainStream): Promise<number[]> {
  const times: number[] = [];
  for (let n = 1; n <= rounds; n++) {
    const sent = performance.now();
    channel.send(`tick ${n}\n`, { close: false });
    const text = await next();
    assert.match(text, new RegExp(`tick ${n}\\b`));
    times.push(performance.now() - sent);
  }
  channel.close();
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** A reader of a fetch body's text chunks, as they arrive (decompressed by fetch). */
function chunkReader(response: Response): () => Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let pending = '';
  return async () => {
    for (;;) {
      const match = /tick \d+\b[^\n]*\n?/.exec(pending);
      if (match !== null) {
        pending = pending.slice(match.index + match[0].length);
        return match[0];
      }
      const { value, done } = await withTimeout(reader.read(), 2000, 'the next chunk through nginx');
      if (done) throw new Error('the stream ended');
      pending += decoder.decode(value, { stream: true });
    }
  };
}

describe('behind nginx (docs/deployment.md)', { skip }, () => {
  for (const { config, transport, streams } of cases) {
    describe(`"${config}"`, () => {
      it(`the client's first message arrives within 1 s of connect(), over ${transport}, and no broadcast goes astray`, async (t) => {
        const s = await behindNginx(t, config);
        const { conn, ms, data } = await firstMessage(t, `${s.nginx.origin}/live`);
        console.log(`# nginx "${config}": first message ${ms.toFixed(0)} ms after connect(), over ${String(conn.transport)}`);
        assert.equal(data, 'welcome');
        assert.equal(conn.transport, transport);
        assert.ok(ms < 1000, `first message after ${ms.toFixed(0)} ms`);
        const mine = s.claimed.find((ch) => ch.id === conn.sessionId);
        assert.ok(mine !== undefined, 'the client is one of the channels the route claimed');
        // No request the proxy mangled became a member: only session channels joined, and the
        // one the client left behind (a held-back SSE) says so by closing 'client-away'.
        const arrived = collect(conn, 1);
        const counted = s.lobby.broadcast('to everyone');
        assert.deepEqual(await arrived, ['to everyone']);
        assert.equal(counted, s.claimed.filter((ch) => ch.isOpen).length);
        for (const ch of s.claimed.filter((c) => c !== mine)) {
          assert.equal(ch.isSession, true);
          assert.equal(await withTimeout(s.closes.get(ch) as Promise<CloseReason>, 5000, 'the abandoned session to close'), 'client-away');
        }
        assert.equal(transport === 'poll' ? s.claimed.length : 1, s.claimed.length);
      });

      it('1,000 numbered messages arrive once and in order, each way', async (t) => {
        const s = await behindNginx(t, config);
        const { conn } = await firstMessage(t, `${s.nginx.origin}/live`);
        const mine = s.claimed.find((ch) => ch.id === conn.sessionId) as Channel;
        const numbers = Array.from({ length: 1000 }, (_, i) => String(i + 1));
        const arrived = collect(conn, 1000);
        for (const n of numbers) mine.send(n);
        assert.deepEqual(await arrived, numbers);
        const delivered = s.receivedCount(1000);
        for (const n of numbers) conn.send(n);
        await withTimeout(delivered, 20_000, 'the server to receive 1000 messages');
        assert.deepEqual(s.received, numbers);
      });

      it(streams ? 'SSE events and stream chunks arrive within 100 ms of being sent' : 'sessions work although it holds SSE events and stream chunks back', async (t) => {
        const s = await behindNginx(t, config);
        if (!streams) {
          // What this proxy does to a plain stream: nothing arrives until it ends.
          const response = fetch(`${s.nginx.origin}/plain`, { headers: { accept: 'text/event-stream' } });
          const ch = await s.parked.next();
          ch.send('tick 1');
          ch.close();
          const text = await (await withTimeout(response, 2000, 'the response')).text();
          assert.match(text, /data: tick 1/);
          return;
        }
        const sseTimes = await latencies(5, await openPlain(s, { accept: 'text/event-stream' }));
        const chunkTimes = await latencies(5, await openPlain(s, {}));
        console.log(`# nginx "${config}": SSE event ${median(sseTimes).toFixed(1)} ms, stream chunk ${median(chunkTimes).toFixed(1)} ms (median of 5)`);
        assert.ok(median(sseTimes) < 100, `SSE events took ${sseTimes.map((x) => x.toFixed(0)).join(', ')} ms`);
        assert.ok(median(chunkTimes) < 100, `stream chunks took ${chunkTimes.map((x) => x.toFixed(0)).join(', ')} ms`);
      });
    });
  }
});
