// The Redis adapter's streams mode (lib/redis/streams.ts, outbox.ts; docs/scaling.md, "Streams
// mode") against a real Redis: broadcasts reach every instance's members once and in order;
// connections killed during broadcasts, a Redis shut down and restarted with its data, and a
// broadcast made while Redis is away lose nothing; entries trimmed away before a process read
// them are a gap its session members are told of. Several `live` instances in one process
// stand for processes, each with its own Redis connections.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { redisAdapter, type RedisAdapterOptions } from '../../lib/redis/index.js';
import { connect } from '../../lib/client/node.js';
import { nextEvent, until } from '../client/support.js';
import { openWebSocket, wsInbox, type Inbox } from '../support/harness.js';
import { privateRedis, sharedRedisUrl, testPrefix, withoutRedis } from '../support/redis.js';
import { roundRobin } from './balancer.js';
import { cluster, quick, reported } from './members.js';
import { eventually, instance, type Instance } from './instances.js';

const skip = await withoutRedis();

/** One "process" in streams mode (spec/redis/instances.ts). */
function streamsInstance(t: TestContext, adapter: RedisAdapterOptions): Promise<Instance> {
  return instance(t, { mode: 'streams', ...adapter }, { heartbeat: 0 });
}

async function drain<T>(inbox: Inbox<T>): Promise<T[]> {
  const all: T[] = [];
  while (inbox.size > 0) all.push(await inbox.next());
  return all;
}

const connected = (...all: Instance[]) => all.every((s) => s.live.stats().adapter?.connected === true);

/** A session client of `transport` on `url`, recording what it gets by sequence number. */
function sessionMember(t: TestContext, url: string, transport: 'websocket' | 'sse' | 'poll') {
  const conn = connect(url, { transports: [transport], reconnect: { minDelay: 5, maxDelay: 50 }, openTimeout: 3000 });
  t.after(() => conn.close());
  // Listened for at once: a member opened while the test awaited another must not be missed.
  const opened = nextEvent(conn, 'open', 10_000);
  opened.catch(() => undefined);
  const seen = { transport, conn, opened, got: [] as string[], gaps: [] as Array<[number, number]> };
  conn.addEventListener('message', (event) => seen.got.push(String(event.data)));
  conn.addEventListener('gap', (event) => seen.gaps.push([event.first, event.last]));
  return seen;
}

async function admin(t: TestContext, url: string): Promise<RedisClientType> {
  const client = createClient({ url }) as RedisClientType;
  client.on('error', () => undefined);
  await client.connect();
  t.after(() => client.destroy());
  return client;
}

/** A TCP relay to Redis that the test can cut (and keep cut): one process losing Redis alone. */
async function relay(t: TestContext, port: number): Promise<{ url: string; cut(): void; mend(): void }> {
  let open = true;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    if (!open) return socket.destroy();
    const upstream = new (socket.constructor as typeof Socket)();
    upstream.connect(port, '127.0.0.1');
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => (sockets.delete(s), socket.destroy(), upstream.destroy()));
    }
    socket.pipe(upstream).pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => (sockets.forEach((s) => s.destroy()), server.close()));
  const address = server.address() as { port: number };
  return { url: `redis://127.0.0.1:${address.port}`, cut: () => ((open = false), sockets.forEach((s) => s.destroy())), mend: () => (open = true) };
}

describe('the Redis adapter in streams mode', { skip }, () => {
  it('refuses a mode it does not know', () => {
    assert.throws(() => redisAdapter({ mode: 'kafka' as 'streams' }), { code: 'ERR_CHANNEL_INVALID_OPTION', message: /is 'pubsub' or 'streams', got "kafka"/ });
    assert.throws(() => redisAdapter({ mode: 'streams', streamLength: 0 }), { code: 'ERR_CHANNEL_INVALID_OPTION', message: /streamLength/ });
  });

  it('delivers a broadcast from one instance to the members of all three, once each and in order, through one stream', async (t) => {
    const prefix = testPrefix();
    const [a, b, c] = [await streamsInstance(t, { url: sharedRedisUrl, prefix }), await streamsInstance(t, { url: sharedRedisUrl, prefix }), await streamsInstance(t, { url: sharedRedisUrl, prefix })];
    const inboxes = [];
    for (const s of [a, b, c]) {
      inboxes.push(wsInbox(await openWebSocket(t, `${s.wsUrl}/live`)));
      await s.joined.next(2000, 'the WebSocket member');
    }
    await eventually(async () => (await a.live.group('room').count()) === 3, 5000, 'the cluster count to reach 3');
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const text of sent) a.live.group('room').broadcast(text);
    for (const [i, inbox] of inboxes.entries()) {
      const got: string[] = [];
      for (const _ of sent) got.push((await inbox.next(5000, `instance ${i}'s broadcasts`)).data.toString());
      assert.deepEqual(got, sent, `instance ${i}`);
    }
    assert.deepEqual(inboxes.map((inbox) => inbox.size), [0, 0, 0], 'nothing twice: the publisher skips its own entries');
    await eventually(() => a.live.stats().adapter?.backlog === 0, 5000, 'the backlog to empty');
    assert.deepEqual(a.live.stats().adapter, { published: 200, received: 0, missed: 0, connected: true, backlog: 0 });
    assert.deepEqual(b.live.stats().adapter, { published: 0, received: 200, missed: 0, connected: true, backlog: 0 });
    const redis = await admin(t, sharedRedisUrl);
    assert.equal(await redis.xLen(`${prefix}:stream:room`), 200, 'one entry per broadcast');
  });

  it('loses nothing through ten CLIENT KILL TYPE normal and ten TYPE pubsub during 2,000 broadcasts: every session and plain client gets each once, in order', { timeout: 90_000 }, async (t) => {
    const redis = await privateRedis(t);
    const prefix = testPrefix();
    const a = await streamsInstance(t, { url: redis.url, prefix });
    const b = await streamsInstance(t, { url: redis.url, prefix });
    const members = (['websocket', 'sse', 'poll'] as const).map((transport) => sessionMember(t, `${b.url}/live`, transport));
    for (const member of members) await member.opened;
    const plain = [wsInbox(await openWebSocket(t, `${b.wsUrl}/live`)), wsInbox(await openWebSocket(t, `${a.wsUrl}/live`))];
    await eventually(async () => (await a.live.group('room').count()) === 5, 5000, 'the members to count');
    const control = await admin(t, redis.url);
    const total = 2000;
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < total) a.live.group('room').broadcast(`b${sent++}`);
    }, 1);
    t.after(() => clearInterval(timer));
    let killed = 0;
    for (let kill = 0; kill < 20; kill++) {
      await eventually(() => sent >= ((kill + 1) * total) / 22 && connected(a, b), 10_000, `broadcasts before kill ${kill}`);
      killed += Number(await control.sendCommand(['CLIENT', 'KILL', 'TYPE', kill % 2 === 0 ? 'normal' : 'pubsub']));
    }
    assert.ok(sent < total, `the kills hit while broadcasts flowed (${sent} sent at the last)`);
    assert.ok(killed >= 20 * 2, `${killed} connections killed`);
    await eventually(() => sent === total, 20_000, 'every broadcast sent');
    const expected = Array.from({ length: total }, (_, i) => `b${i}`);
    for (const member of members) {
      await until(member.conn, 'message', () => member.got.length >= total, 30_000).catch(() => undefined);
      assert.deepEqual([member.got.length, member.gaps], [total, []], `${member.transport}: ${member.got.length} messages`);
      assert.deepEqual(member.got, expected, `${member.transport}: each once, in order`);
    }
    for (const [i, inbox] of plain.entries()) {
      const got: string[] = [];
      for (const _ of expected) got.push((await inbox.next(30_000, `plain WebSocket ${i}`)).data.toString());
      assert.deepEqual(got, expected, `plain WebSocket ${i}`);
    }
    assert.equal(b.live.stats().adapter?.missed, 0);
    const codes = [...(await drain(a.errors)), ...(await drain(b.errors))].map((error) => (error as Error & { code?: string }).code);
    assert.ok(codes.every((code) => code === 'ERR_CHANNEL_ADAPTER'), `only lost connections told: ${codes.join(', ')}`);
  });

  it('loses nothing when Redis shuts down and restarts with its data (AOF) in the middle of 1,000 broadcasts', { timeout: 60_000 }, async (t) => {
    const redis = await privateRedis(t, { appendonly: true });
    const prefix = testPrefix();
    const a = await streamsInstance(t, { url: redis.url, prefix });
    const b = await streamsInstance(t, { url: redis.url, prefix });
    const member = sessionMember(t, `${b.url}/live`, 'websocket');
    await member.opened;
    const plain = wsInbox(await openWebSocket(t, `${b.wsUrl}/live`));
    await eventually(async () => (await a.live.group('room').count()) === 2, 5000, 'the members to count');
    const total = 1000;
    let sent = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 2 && sent < total; i++) a.live.group('room').broadcast(`b${sent++}`);
    }, 1);
    t.after(() => clearInterval(timer));
    await eventually(() => sent >= total / 3, 10_000, 'a third of the broadcasts');
    await redis.shutdown();
    await eventually(() => sent >= (2 * total) / 3, 10_000, 'two thirds, Redis away');
    await redis.start();
    await eventually(() => sent === total, 20_000, 'every broadcast sent');
    const expected = Array.from({ length: total }, (_, i) => `b${i}`);
    await until(member.conn, 'message', () => member.got.length >= total, 30_000).catch(() => undefined);
    assert.deepEqual(member.gaps, []);
    assert.deepEqual(member.got, expected, 'the session member: each once, in order');
    const got: string[] = [];
    for (const _ of expected) got.push((await plain.next(30_000, 'the plain WebSocket')).data.toString());
    assert.deepEqual(got, expected, 'the plain WebSocket: each once, in order');
  });

  it('keeps what broadcast() accepted while Redis is away (it never throws) and delivers it once Redis is back', async (t) => {
    const redis = await privateRedis(t, { appendonly: true });
    const prefix = testPrefix();
    const a = await streamsInstance(t, { url: redis.url, prefix });
    const b = await streamsInstance(t, { url: redis.url, prefix });
    const member = sessionMember(t, `${b.url}/live`, 'poll');
    await member.opened;
    await eventually(async () => (await a.live.group('room').count()) === 1, 5000, 'the member to count');
    a.live.group('room').broadcast('before');
    await until(member.conn, 'message', () => member.got.length === 1, 5000);
    await redis.shutdown();
    await eventually(() => a.live.stats().adapter?.connected === false, 5000, 'a to notice the outage');
    for (const text of ['away 1', 'away 2', 'away 3']) assert.doesNotThrow(() => a.live.group('room').broadcast(text));
    // live hands a broadcast to its adapter a microtask later (after its own members).
    await eventually(() => a.live.stats().adapter?.backlog === 3, 2000, 'the three broadcasts kept, in this process');
    await redis.start();
    await until(member.conn, 'message', () => member.got.length >= 4, 20_000);
    assert.deepEqual(member.got, ['before', 'away 1', 'away 2', 'away 3']);
    assert.deepEqual(member.gaps, []);
    assert.equal(a.live.stats().adapter?.backlog, 0);
  });

  it('keeps at most backlogLimit broadcasts while Redis is away: the ones past it are a gap the other processes\' session members are told of', async (t) => {
    const redis = await privateRedis(t, { appendonly: true });
    const prefix = testPrefix();
    const a = await streamsInstance(t, { url: redis.url, prefix, backlogLimit: 2 });
    const b = await streamsInstance(t, { url: redis.url, prefix });
    const seen: string[] = [];
    const conn = connect(`${b.url}/live`, { transports: ['websocket'], reconnect: { minDelay: 5, maxDelay: 50 }, openTimeout: 3000 });
    t.after(() => conn.close());
    conn.addEventListener('message', (event) => seen.push(`${event.seq}:${String(event.data)}`));
    conn.addEventListener('gap', (event) => seen.push(`gap ${event.first}-${event.last}`));
    await nextEvent(conn, 'open');
    await eventually(async () => (await a.live.group('room').count()) === 1, 5000, 'the member to count');
    await redis.shutdown();
    await eventually(() => a.live.stats().adapter?.connected === false, 5000, 'a to notice the outage');
    for (const text of ['kept 1', 'kept 2', 'not kept']) a.live.group('room').broadcast(text);
    await eventually(() => a.live.stats().adapter?.backlog === 2, 2000, 'two kept');
    await redis.start();
    await eventually(() => connected(a, b) && a.live.stats().adapter?.backlog === 0, 10_000, 'the backlog written');
    a.live.group('room').broadcast('after');
    await until(conn, 'message', () => seen.includes('4:after'), 10_000);
    assert.deepEqual(seen, ['1:kept 1', '2:kept 2', 'gap 3-3', '4:after']);
    const told = await a.errors.next(2000, "a's report");
    assert.ok((await drain(a.errors)).concat(told).some((error) => /backlog is full/.test(error.message)), 'a said its backlog was full');
  });

  it('tells a session member of the entries trimmed away before its process read them, as a gap where they were', async (t) => {
    const redis = await privateRedis(t);
    const prefix = testPrefix();
    const a = await streamsInstance(t, { url: redis.url, prefix });
    const cuttable = await relay(t, Number(new URL(redis.url).port));
    const b = await streamsInstance(t, { url: cuttable.url, prefix });
    const seen: string[] = [];
    const conn = connect(`${b.url}/live`, { transports: ['websocket'], reconnect: { minDelay: 5, maxDelay: 50 }, openTimeout: 3000 });
    t.after(() => conn.close());
    conn.addEventListener('message', (event) => seen.push(`${event.seq}:${String(event.data)}`));
    conn.addEventListener('gap', (event) => seen.push(`gap ${event.first}-${event.last}`));
    await nextEvent(conn, 'open');
    await eventually(async () => (await a.live.group('room').count()) === 1, 5000, 'the member to count');
    a.live.group('room').broadcast('before');
    await until(conn, 'message', () => seen.length === 1, 5000);
    cuttable.cut(); // b alone loses Redis
    await eventually(() => b.live.stats().adapter?.connected === false, 5000, 'b to notice');
    a.live.group('room').broadcast('trimmed 1');
    a.live.group('room').broadcast('trimmed 2');
    await eventually(() => a.live.stats().adapter?.backlog === 0, 5000, "a's entries to be in the stream");
    const control = await admin(t, redis.url);
    await control.sendCommand(['XTRIM', `${prefix}:stream:room`, 'MAXLEN', '0']);
    cuttable.mend();
    await eventually(() => connected(b), 10_000, 'b to reconnect');
    a.live.group('room').broadcast('after');
    await until(conn, 'message', () => seen.includes('4:after'), 10_000);
    assert.deepEqual(seen, ['1:before', 'gap 2-3', '4:after']);
    assert.equal(b.live.stats().adapter?.missed, 2);
  });

  it('takes a WebSocket session over at each of 10 cuts in streams mode: 1,000 broadcasts of a third process, each once, in order', { timeout: 90_000 }, async (t) => {
    const prefix = testPrefix();
    const owners = [await streamsInstance(t, { url: sharedRedisUrl, prefix }), await streamsInstance(t, { url: sharedRedisUrl, prefix })];
    const publisher = await streamsInstance(t, { url: sharedRedisUrl, prefix });
    const balancer = await roundRobin(t, owners.map((s) => s.port));
    const conn = connect(`${balancer.url}/live`, { ...quick, transports: ['websocket'] });
    t.after(() => conn.close());
    const got: string[] = [];
    let gaps = 0;
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    conn.addEventListener('gap', () => gaps++);
    await nextEvent(conn, 'open');
    await eventually(async () => (await publisher.live.group('room').count()) === 1, 5000, 'the member to count');
    const total = 1000;
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < total) publisher.live.group('room').broadcast(`b${sent++}`);
    }, 1);
    t.after(() => clearInterval(timer));
    for (let cut = 0; cut < 10; cut++) {
      await until(conn, 'message', () => got.length >= ((cut + 1) * total) / 12, 10_000);
      const reopened = nextEvent(conn, 'open', 10_000);
      balancer.cut();
      assert.equal((await reopened).resumed, true, `cut ${cut}`);
    }
    await until(conn, 'message', () => got.length >= total, 20_000).catch(() => undefined);
    assert.deepEqual(got, Array.from({ length: total }, (_, i) => `b${i}`));
    assert.equal(gaps, 0);
  });

  it('serves three processes in streams mode behind a round-robin balancer: 1,000 broadcasts through five CLIENT KILL TYPE normal and five TYPE pubsub reach session clients on websocket and sse (through the balancer) and poll and a plain WebSocket on each process, once each, in order', { timeout: 120_000 }, async (t) => {
    const redis = await privateRedis(t);
    const prefix = testPrefix();
    const settings = { url: redis.url, mode: 'streams' } as const;
    const members = await cluster(t, 3, prefix, settings);
    const [publisher] = await cluster(t, 1, prefix, settings); // not behind the balancer: it only broadcasts
    const balancer = await roundRobin(t, members.map((m) => m.port));
    // The polling client goes to one process: polls forwarded to their owner go through its
    // inbox, on pub/sub, and one whose request or answer a TYPE pubsub kill took waits for
    // its timeout (pollTimeout + 3 s) before the client polls again (docs/scaling.md).
    const sessions = [sessionMember(t, `${balancer.url}/live`, 'websocket'), sessionMember(t, `${balancer.url}/live`, 'sse'), sessionMember(t, `http://127.0.0.1:${members[2]!.port}/live`, 'poll')];
    for (const session of sessions) await session.opened;
    const plain = [];
    for (const member of members) plain.push(wsInbox(await openWebSocket(t, `ws://127.0.0.1:${member.port}/live`)));
    for (let count = 0; count !== 6; ) {
      publisher!.ask({ op: 'count' });
      count = (await reported(publisher!, 'count')).count as number;
    }
    const total = 1000;
    const expected = Array.from({ length: total }, (_, i) => `b${i}`);
    publisher!.ask({ op: 'stream', texts: expected });
    const control = await admin(t, redis.url);
    for (let kill = 0; kill < 10; kill++) {
      await until(sessions[0]!.conn, 'message', () => sessions[0]!.got.length >= ((kill + 1) * total) / 12, 20_000);
      await control.sendCommand(['CLIENT', 'KILL', 'TYPE', kill % 2 === 0 ? 'normal' : 'pubsub']);
    }
    await reported(publisher!, 'streamed', 30_000);
    for (const session of sessions) {
      await until(session.conn, 'message', () => session.got.length >= total, 30_000).catch(() => undefined);
      assert.deepEqual(session.gaps, [], `${session.transport}: no gap`);
      assert.deepEqual(session.got, expected, `${session.transport}: each once, in order`);
    }
    for (const [i, inbox] of plain.entries()) {
      const got: string[] = [];
      for (const _ of expected) got.push((await inbox.next(30_000, `the plain WebSocket on process ${i}`)).data.toString());
      assert.deepEqual(got, expected, `the plain WebSocket on process ${i}`);
      assert.equal(inbox.size, 0, 'nothing twice');
    }
  });
});
