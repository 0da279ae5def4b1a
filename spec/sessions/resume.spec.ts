import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { channels, type Channel, type ChannelsOptions, type CloseReason } from '../../lib/index.js';
import { deferred, serve, withTimeout } from '../support/harness.js';
import { SessionPeer, type PeerTransport } from '../support/session-peer.js';
import { propertySeed, seeded } from '../support/property.js';

/** An app whose `/live` route claims the channel and hands it to the test. */
async function sessionApp(t: TestContext, options: ChannelsOptions = {}) {
  const live = channels(options);
  const app = express();
  app.use(live);
  const channelsSeen: Channel[] = [];
  const routed = deferred<Channel>();
  const closed = deferred<CloseReason>();
  const group = live.group('room');
  let routeRuns = 0;
  app.get('/live', (req) => {
    routeRuns++;
    const ch = req.channel!;
    channelsSeen.push(ch);
    routed.resolve(ch);
    group.add(ch);
    ch.onReceive((m) => ch.send(`echo:${String(m)}`));
    ch.onClose((reason) => closed.resolve(reason));
  });
  const served = await serve(t, app, live);
  return { live, group, served, channelsSeen, firstChannel: routed.promise, closed: closed.promise, routeRuns: () => routeRuns, cutAll: () => served.sockets.forEach((s) => s.destroy()) };
}

const transports: PeerTransport[] = ['websocket', 'sse', 'poll'];

describe('session resume', () => {
  it('delivers 10,000 numbered messages exactly once and in order while the connection is cut 50 times across WebSocket, SSE and poll', async (t) => {
    const { served, channelsSeen, cutAll, routeRuns } = await sessionApp(t, {
      sessionBuffer: { messages: 20_000, bytes: 64 * 1024 * 1024 },
      pollTimeout: 2000,
    });
    const peer = new SessionPeer(served.url, '/live');
    const total = 10_000;
    // Cut points drawn from the run's fixed seed (FC_SEED for others; the failure message prints them).
    const random = seeded(propertySeed);
    const cutAt = new Set<number>();
    while (cutAt.size < 50) cutAt.add(1 + Math.floor(random() * (total - 1)));
    let cuts = 0;
    const transportsUsed = new Set<PeerTransport>();

    const driver = (async () => {
      let i = 0;
      while (peer.messages.length < total) {
        const transport = i < 3 ? (transports[i] as PeerTransport) : (transports[Math.floor(random() * 3)] as PeerTransport);
        i++;
        transportsUsed.add(transport);
        await peer.connect(transport).catch(() => undefined);
        await Promise.race([peer.ended(), peer.waitFor(total)]);
      }
    })();

    await peer.connected();
    const channel = channelsSeen[0] as Channel;
    for (let n = 1; n <= total; n++) {
      assert.equal(channel.send(String(n)), true);
      if (cutAt.has(n)) {
        await peer.connected();
        cutAll();
        cuts++;
      }
      if (n % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await withTimeout(driver, 30_000, `all ${total} messages (got ${peer.messages.length}; cuts at ${[...cutAt].sort((a, b) => a - b).join(',')})`);
    peer.cut();

    assert.deepEqual(peer.errors, []);
    assert.equal(cuts, 50);
    assert.equal(peer.messages.length, total);
    assert.ok(peer.messages.every((m, i) => m === String(i + 1)), 'every number once, in order');
    assert.equal(routeRuns(), 1, 'the route ran once: resumes were handled by the middleware');
    assert.ok(transportsUsed.size === 3);
  });

  it('delivers group broadcasts exactly once and in order across cuts, with excepts, leaving, rejoining and direct sends between them', async (t) => {
    const { served, live, group, channelsSeen, cutAll } = await sessionApp(t, {
      sessionBuffer: { messages: 20_000, bytes: 64 * 1024 * 1024 },
      pollTimeout: 2000,
    });
    const other = live.group('other');
    const peers = [new SessionPeer(served.url, '/live'), new SessionPeer(served.url, '/live')];
    const total = 3000;
    const random = seeded(propertySeed + 1);
    const cutAt = new Set<number>();
    while (cutAt.size < 30) cutAt.add(1 + Math.floor(random() * (total - 1)));
    const expected: string[][] = [[], []];
    let done = false;
    const drivers = peers.map(async (peer, p) => {
      for (let i = p; !done; i++) {
        await peer.connect(transports[i % 3] as PeerTransport).catch(() => undefined);
        await Promise.race([peer.ended(), peer.waitFor(Number.MAX_SAFE_INTEGER)]);
      }
    });
    for (const peer of peers) await peer.connected();
    const [a, b] = channelsSeen as [Channel, Channel];
    // Both are in 'room'; `a` comes and goes, is left out now and then, joins 'other', and
    // gets messages of its own: each of these ends the run of 'room' broadcasts it follows.
    const to = (who: Channel[], text: string) => who.forEach((ch) => expected[ch === a ? 0 : 1]!.push(text));
    for (let n = 1; n <= total; n++) {
      const choice = random();
      if (choice < 0.6) {
        group.broadcast(`room ${n}`);
        to([...group], `room ${n}`);
      } else if (choice < 0.7) {
        group.broadcast(`all but a ${n}`, { except: a });
        to([b], `all but a ${n}`);
      } else if (choice < 0.8) {
        if (group.has(a)) group.delete(a);
        else group.add(a);
      } else if (choice < 0.9) {
        other.add(a);
        other.broadcast(`other ${n}`);
        to([a], `other ${n}`);
        if (random() < 0.5) other.delete(a);
      } else {
        a.send(`own ${n}`);
        to([a], `own ${n}`);
      }
      if (cutAt.has(n)) {
        for (const peer of peers) await peer.connected();
        cutAll();
      }
      if (n % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (const [p, peer] of peers.entries()) {
      await withTimeout(peer.waitFor(expected[p]!.length), 30_000, `peer ${p}: ${expected[p]!.length} messages (got ${peer.messages.length}; cuts at ${[...cutAt].sort((x, y) => x - y).join(',')})`);
    }
    done = true;
    for (const peer of peers) peer.cut();
    await Promise.all(drivers);
    for (const [p, peer] of peers.entries()) {
      assert.deepEqual(peer.errors, []);
      assert.deepEqual(peer.messages, expected[p], `peer ${p}: every message once, in order`);
    }
  });

  it('gives the same channel back on resume: same groups, same handlers, on another transport', async (t) => {
    const { served, channelsSeen, group, routeRuns } = await sessionApp(t);
    const peer = new SessionPeer(served.url, '/live');
    await peer.connect('websocket');
    const channel = channelsSeen[0] as Channel;
    assert.equal(channel.transport, 'websocket');
    assert.equal(channel.isSession, true);
    assert.equal(channel.id, peer.sessionId);
    peer.cut();
    await peer.ended();
    group.broadcast('while away');
    await peer.connect('sse');
    await peer.waitFor(1);
    assert.equal(channel.transport, 'sse');
    assert.equal(group.has(channel), true);
    // A message POSTed on the SSE session reaches the handler the route registered.
    const post = await fetch(`${served.url}/live?ecs=${peer.sessionId}&ecm=1`, { method: 'POST', body: '["hi"]', headers: { 'content-type': 'application/json', ...peer.headers() } });
    assert.deepEqual(await post.json(), { received: 1 });
    await peer.waitFor(2);
    assert.deepEqual(peer.messages, ['while away', 'echo:hi']);
    assert.equal(routeRuns(), 1);
    assert.equal(channelsSeen.length, 1);
    peer.cut();
  });

  it('signals a gap with the lost range instead of replaying part of it', async (t) => {
    const { served, channelsSeen } = await sessionApp(t, { sessionBuffer: { messages: 5 } });
    const peer = new SessionPeer(served.url, '/live');
    await peer.connect('websocket');
    peer.cut();
    await peer.ended();
    const channel = channelsSeen[0] as Channel;
    for (let n = 1; n <= 12; n++) channel.send(String(n));
    const hello = await peer.connect('websocket');
    assert.deepEqual(hello.gap, [1, 7]);
    assert.equal(hello.next, 8);
    await peer.waitFor(5);
    assert.deepEqual(peer.messages, ['8', '9', '10', '11', '12']);
    peer.cut();
  });

  it('closes a session whose client never returns with client-away within sessionTimeout', async (t) => {
    const sessionTimeout = 200;
    const { served, closed } = await sessionApp(t, { sessionTimeout, heartbeat: 50 });
    const peer = new SessionPeer(served.url, '/live');
    await peer.connect('websocket');
    const cutTime = Date.now();
    peer.cut();
    assert.equal(await withTimeout(closed, 2000, 'client-away'), 'client-away');
    const elapsed = Date.now() - cutTime;
    assert.ok(elapsed >= sessionTimeout - 20, `closed after ${elapsed} ms, not before sessionTimeout`);
    assert.ok(elapsed <= sessionTimeout + 50 + 500, `closed after ${elapsed} ms: within sessionTimeout plus a heartbeat (and scheduling slack)`);
    // A resume after that is refused with a clear JSON error: the client must start afresh.
    const res = await fetch(`${served.url}${peer.query('&ect=poll')}`, { headers: peer.headers() });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'unknown-session');
  });

  it('closes a session whose client went silent (socket open, no pongs) within sessionTimeout plus one heartbeat of last hearing from it', async (t) => {
    const heartbeat = 50;
    const sessionTimeout = 300;
    const { served, closed } = await sessionApp(t, { sessionTimeout, heartbeat });
    // A half-open peer: the socket stays up but nothing answers the server's pings.
    const ws = new WebSocket(`${served.wsUrl}/live?ecs=new`, { autoPong: false });
    t.after(() => ws.terminate());
    await once(ws, 'message'); // the hello
    const lastHeard = Date.now();
    assert.equal(await withTimeout(closed, 3000, 'client-away'), 'client-away');
    const elapsed = Date.now() - lastHeard;
    assert.ok(elapsed >= sessionTimeout - 20, `closed after ${elapsed} ms`);
    assert.ok(elapsed <= sessionTimeout + heartbeat + 150, `closed after ${elapsed} ms, more than sessionTimeout + one heartbeat (+ slack)`);
  });

  it('answers an unknown session id with 404 JSON, and with close code 4404 on WebSocket', async (t) => {
    const { served } = await sessionApp(t);
    const res = await fetch(`${served.url}/live?ecs=AAAAAAAAAAAAAAAAAAAAAA&eca=0`, { headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await res.json(), {
      error: 'unknown-session',
      message: 'No session with this id: it expired or never existed. Open a new one with ecs=new.',
    });
    const ws = new WebSocket(`${served.wsUrl}/live?ecs=AAAAAAAAAAAAAAAAAAAAAA&eca=0`);
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 4404);
    assert.equal(reason.toString(), 'unknown-session');
  });

  it('rejects a malformed session id or acknowledgement with 400', async (t) => {
    const { served } = await sessionApp(t);
    const bad = await fetch(`${served.url}/live?ecs=short&ect=poll`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'bad-request');
    const peer = new SessionPeer(served.url, '/live');
    await peer.connect('websocket');
    const ahead = await fetch(`${served.url}/live?ecs=${peer.sessionId}&eca=99&ect=poll`, { headers: peer.headers() });
    assert.equal(ahead.status, 400);
    assert.deepEqual(await ahead.json(), { error: 'bad-request', message: 'eca is past the last message sent' });
    peer.cut();
  });

  it('resumes a plain EventSource that asked for a session in its URL through Last-Event-ID', async (t) => {
    const { served, firstChannel, cutAll, routeRuns } = await sessionApp(t);
    const source = new EventSource(`${served.url}/live?ecs=new`);
    t.after(() => source.close());
    const received: Array<{ data: string; id: string }> = [];
    const arrivals: Array<() => void> = [];
    source.onmessage = (event) => {
      received.push({ data: event.data as string, id: event.lastEventId });
      arrivals.shift()?.();
    };
    const next = () => new Promise<void>((resolve) => arrivals.push(resolve));
    await once(source, 'open');
    const channel = await withTimeout(firstChannel, 2000, 'the route');
    const first = next();
    channel.send('one');
    await withTimeout(first, 2000, 'the first message');
    cutAll(); // the browser-like client reconnects by itself, with Last-Event-ID
    channel.send('two'); // sent while it is away: held in the session buffer
    const second = next();
    await withTimeout(second, 5000, 'the replayed message');
    const third = next();
    channel.send('three');
    await third;
    assert.deepEqual(
      received.map((r) => r.data),
      ['one', 'two', 'three'],
    );
    assert.match(received[0]!.id, new RegExp(`^${channel.id}\\.[\\w-]{22}\\.1$`), 'SESSION.SECRET.SEQ: the secret rides in the Last-Event-ID header');
    assert.equal(routeRuns(), 1);
  });

  it('sends every SSE session member the same bytes when the client counts events (eco=1), with id lines otherwise', async (t) => {
    const { served, group } = await sessionApp(t);
    const read = async (query: string): Promise<string> => {
      const res = await fetch(`${served.url}/live?${query}`, { headers: { accept: 'text/event-stream' } });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('data: news')) {
        const { value } = await reader.read();
        text += Buffer.from(value!).toString();
        if (text.includes('ec-hello') && !text.includes('news')) group.broadcast('news');
      }
      await reader.cancel();
      return text.slice(text.indexOf('}\n\n') + 3);
    };
    assert.equal(await read('ecs=new&eco=1'), 'data: news\n\n');
    assert.match(await read('ecs=new'), /^id: [\w-]{22}\.[\w-]{22}\.1\ndata: news\n\n$/);
  });

  it('keeps plain channels plain: no ids, onClose as soon as the connection ends', async (t) => {
    const live = channels();
    const app = express();
    app.use(live);
    const closed = deferred<CloseReason>();
    app.get('/plain', (req) => {
      const ch = req.channel!;
      assert.equal(ch.isSession, false);
      ch.send('x');
      ch.onClose((r) => closed.resolve(r));
    });
    const served = await serve(t, app, live);
    const ws = new WebSocket(`${served.wsUrl}/plain`);
    const [data] = (await once(ws, 'message')) as [Buffer];
    assert.equal(data.toString(), 'x');
    ws.terminate();
    assert.equal(await withTimeout(closed.promise, 2000, 'onClose'), 'abnormal');
  });
});
