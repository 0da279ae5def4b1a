// The Redis adapter (lib/redis/adapter.ts) against a real Redis: broadcasts reach every
// instance's members once and in order, group.count() sums the live processes, stats tell an
// operator what goes through Redis, and a lost subscription is detected and told, never
// silent. Several `live` instances in one process stand for processes: each has its own Redis
// connections, as separate processes would (spec/redis/cluster.spec.ts runs real processes).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { channels } from '../../lib/index.js';
import { redisAdapter } from '../../lib/redis/index.js';
import { connect } from '../../lib/client/node.js';
import { nextEvent, until } from '../client/support.js';
import { openSse, openWebSocket, wsInbox } from '../support/harness.js';
import { privateRedis, sharedRedisUrl, testPrefix, withoutRedis } from '../support/redis.js';
import { eventually, instance } from './instances.js';

const skip = await withoutRedis();


describe('the Redis adapter', { skip }, () => {
  it('delivers a broadcast from one instance to the members of all three, once each and in order, on WebSocket and SSE', async (t) => {
    const prefix = testPrefix();
    const [a, b, c] = [await instance(t, { url: sharedRedisUrl, prefix }), await instance(t, { url: sharedRedisUrl, prefix }), await instance(t, { url: sharedRedisUrl, prefix })];
    const inboxes = [];
    for (const s of [a, b, c]) {
      inboxes.push(wsInbox(await openWebSocket(t, `${s.wsUrl}/live`)));
      await s.joined.next(2000, 'the WebSocket member');
    }
    const sse = await openSse(t, `${c.url}/live`);
    await c.joined.next(2000, 'the SSE member');
    // Every instance subscribed before the first broadcast.
    await eventually(async () => (await a.live.group('room').count()) === 4, 5000, 'the cluster count to reach 4');
    const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const text of sent) a.live.group('room').broadcast(text);
    for (const [i, inbox] of inboxes.entries()) {
      const got: string[] = [];
      for (const _ of sent) got.push((await inbox.next(5000, `instance ${i}'s broadcasts`)).data.toString());
      assert.deepEqual(got, sent, `instance ${i}`);
    }
    const events: string[] = [];
    for (const _ of sent) events.push((await sse.events.next(5000, 'the SSE broadcasts')).data);
    assert.deepEqual(events, sent);
    assert.deepEqual(inboxes.map((inbox) => inbox.size), [0, 0, 0], 'nothing twice: the publisher skips its own echo');
    assert.deepEqual(a.live.stats().adapter, { published: 100, received: 0, missed: 0, connected: true });
    assert.deepEqual(b.live.stats().adapter, { published: 0, received: 100, missed: 0, connected: true });
    assert.deepEqual([a.errors.size, b.errors.size, c.errors.size], [0, 0, 0]);
  });

  it('carries bytes as bytes and SSE event names across', async (t) => {
    const prefix = testPrefix();
    const a = await instance(t, { url: sharedRedisUrl, prefix });
    const b = await instance(t, { url: sharedRedisUrl, prefix });
    const ws = wsInbox(await openWebSocket(t, `${b.wsUrl}/live`));
    const sse = await openSse(t, `${b.url}/live`);
    await b.joined.next(2000, 'a member');
    await b.joined.next(2000, 'a member');
    await eventually(async () => (await a.live.group('room').count()) === 2, 5000, 'the count');
    a.live.group('room').broadcast(Buffer.from([0, 1, 2, 255]));
    a.live.group('room').broadcast('named', { event: 'news', id: 7 });
    const binary = await ws.next(5000, 'the bytes');
    assert.deepEqual([binary.isBinary, [...(binary.data as Buffer)]], [true, [0, 1, 2, 255]]);
    assert.equal((await ws.next(5000, 'the text')).data.toString(), 'named');
    await sse.events.next(5000, 'the bytes as SSE');
    const named = await sse.events.next(5000, 'the named event');
    assert.deepEqual([named.event, named.id, named.data], ['news', '7', 'named']);
  });

  it('counts the members of every live process, and stops counting one that died within deadAfter', async (t) => {
    const prefix = testPrefix();
    const a = await instance(t, { url: sharedRedisUrl, prefix });
    const doomedClient = createClient({ url: sharedRedisUrl }) as RedisClientType;
    doomedClient.on('error', () => undefined);
    await doomedClient.connect();
    const b = await instance(t, { client: doomedClient, prefix, deadAfter: 600 });
    for (let i = 0; i < 2; i++) await openWebSocket(t, `${a.wsUrl}/live`);
    for (let i = 0; i < 3; i++) await openWebSocket(t, `${b.wsUrl}/live`);
    await eventually(async () => (await a.live.group('room').count()) === 5, 5000, 'a count of 5');
    assert.equal(await b.live.group('room').count(), 5);
    assert.equal(a.live.group('room').size, 2, 'size stays local');
    // b's Redis connections die with no goodbye (as in a SIGKILL): it stops beating.
    doomedClient.destroy();
    const died = Date.now();
    await eventually(async () => (await a.live.group('room').count()) === 2, 5000, "the dead process's members to stop counting");
    assert.ok(Date.now() - died <= 600 + 300, `stopped counting after ${Date.now() - died} ms (deadAfter 600)`);
  });

  it('takes a process out of the count at once when it closes', async (t) => {
    const prefix = testPrefix();
    const a = await instance(t, { url: sharedRedisUrl, prefix });
    const b = await instance(t, { url: sharedRedisUrl, prefix });
    await openWebSocket(t, `${b.wsUrl}/live`);
    await eventually(async () => (await a.live.group('room').count()) === 1, 5000, 'a count of 1');
    await b.live.close();
    assert.equal(await a.live.group('room').count(), 0);
  });

  it('is not ready until its adapter connected, and stays ready through a Redis outage', async (t) => {
    const redis = await privateRedis(t);
    const live = channels({ adapter: redisAdapter({ url: redis.url, prefix: testPrefix() }) });
    t.after(() => live.close());
    assert.equal(live.ready, false, 'not before the adapter is connected and subscribed');
    await eventually(() => live.ready, 5000, 'live to be ready');
    await redis.kill();
    await eventually(() => live.stats().adapter?.connected === false, 5000, 'the outage to be noticed');
    assert.equal(live.ready, true, 'local channels still work: a Redis outage must not take every process out of rotation');
  });

  it('tells of broadcasts lost while a subscriber was cut off, keeps serving local members, and reconnects by itself', async (t) => {
    const redis = await privateRedis(t);
    const prefix = testPrefix();
    const a = await instance(t, { url: redis.url, prefix });
    const b = await instance(t, { url: redis.url, prefix });
    const remote = wsInbox(await openWebSocket(t, `${b.wsUrl}/live`));
    const local = wsInbox(await openWebSocket(t, `${a.wsUrl}/live`));
    await eventually(async () => (await a.live.group('room').count()) === 2, 5000, 'a count of 2');
    a.live.group('room').broadcast('before');
    assert.equal((await remote.next(5000, 'the first broadcast')).data.toString(), 'before');
    await redis.kill();
    await eventually(async () => a.live.stats().adapter?.connected === false, 5000, 'a to notice the outage');
    a.live.group('room').broadcast('while away'); // Redis is gone: reaches only a's own member
    assert.equal((await local.next(2000, 'the local member during the outage')).data.toString(), 'before');
    assert.equal((await local.next(2000, 'the local member during the outage')).data.toString(), 'while away');
    await redis.start();
    await eventually(async () => a.live.stats().adapter?.connected === true && b.live.stats().adapter?.connected === true, 10_000, 'both adapters to reconnect');
    a.live.group('room').broadcast('after');
    assert.equal((await remote.next(5000, 'the broadcast after the outage')).data.toString(), 'after');
    // b was told of the lost connection first, then of the broadcast it missed.
    const codes: Array<string | undefined> = [];
    let missed: Error;
    do {
      missed = await b.errors.next(5000, "b's report of the lost broadcast");
      codes.push((missed as Error & { code?: string }).code);
    } while (codes.at(-1) !== 'ERR_CHANNEL_BROADCASTS_MISSED');
    assert.ok(codes.slice(0, -1).every((code) => code === 'ERR_CHANNEL_ADAPTER'), `b's errors: ${codes.join(', ')}`);
    assert.match(missed.message, /1 broadcast\(s\) of group "room"/);
    assert.equal(b.live.stats().adapter?.missed, 1);
    assert.equal(remote.size, 0, 'nothing else arrived');
  });

  it('covers every broadcast a session member missed through ten CLIENT KILL TYPE pubsub during broadcasts with a gap it is told of, on websocket, sse and poll', { timeout: 60_000 }, async (t) => {
    const redis = await privateRedis(t); // CLIENT KILL would cut every subscriber of the shared one
    const prefix = testPrefix();
    const a = await instance(t, { url: redis.url, prefix });
    const b = await instance(t, { url: redis.url, prefix });
    const members = (['websocket', 'sse', 'poll'] as const).map((transport) => {
      const conn = connect(`${b.url}/live`, { transports: [transport], reconnect: { minDelay: 5, maxDelay: 50 }, openTimeout: 3000 });
      t.after(() => conn.close());
      const seen = { transport, conn, messages: new Map<number, string>(), gaps: [] as Array<[number, number]>, last: 0 };
      conn.addEventListener('message', (event) => {
        seen.messages.set(event.seq as number, String(event.data));
        seen.last = Math.max(seen.last, event.seq as number);
      });
      conn.addEventListener('gap', (event) => seen.gaps.push([event.first, event.last]));
      return seen;
    });
    for (const member of members) await nextEvent(member.conn, 'open');
    await eventually(async () => (await a.live.group('room').count()) === members.length, 5000, 'the members to count');
    const admin = createClient({ url: redis.url }) as RedisClientType;
    admin.on('error', () => undefined);
    await admin.connect();
    t.after(() => admin.destroy());
    const total = 1000;
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < total) a.live.group('room').broadcast(`b${sent++}`);
    }, 1);
    t.after(() => clearInterval(timer));
    for (let kill = 0; kill < 10; kill++) {
      await eventually(async () => sent >= ((kill + 1) * total) / 12 && a.live.stats().adapter?.connected === true && b.live.stats().adapter?.connected === true, 10_000, `broadcasts before kill ${kill}`);
      await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    }
    await eventually(async () => sent === total, 20_000, 'every broadcast sent');
    clearInterval(timer);
    // A loss is noticed at the publisher's next broadcast: one more, once both are connected again.
    await eventually(async () => a.live.stats().adapter?.connected === true && b.live.stats().adapter?.connected === true, 10_000, 'both adapters to reconnect');
    a.live.group('room').broadcast('end');
    for (const member of members) {
      await until(member.conn, 'message', () => member.messages.get(total + 1) === 'end', 20_000);
      // Sequence number k is broadcast k - 1 (a lost one takes its number too): each is there, or inside a gap.
      const gapped = new Set(member.gaps.flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i)));
      for (let seq = 1; seq <= total; seq++) {
        const text = member.messages.get(seq);
        if (text === undefined) {
          assert.ok(gapped.has(seq), `${member.transport}: message ${seq} missing without a gap (gaps ${JSON.stringify(member.gaps)})`);
        } else {
          assert.equal(text, `b${seq - 1}`, `${member.transport}: message ${seq}`);
          assert.ok(!gapped.has(seq), `${member.transport}: message ${seq} received and inside a gap`);
        }
      }
    }
    assert.ok((b.live.stats().adapter?.missed ?? 0) > 0, 'some broadcasts were lost: the kills hit while broadcasts flowed');
  });

  for (const transport of ['websocket', 'sse', 'poll'] as const) {
    it(`tells a session member on ${transport} of a broadcast lost on the way, as a gap where it was, and delivers the rest`, async (t) => {
      const redis = await privateRedis(t);
      const prefix = testPrefix();
      const a = await instance(t, { url: redis.url, prefix });
      const b = await instance(t, { url: redis.url, prefix });
      const conn = connect(`${b.url}/live`, { transports: [transport], reconnect: { minDelay: 5, maxDelay: 50 }, openTimeout: 3000 });
      t.after(() => conn.close());
      const seen: string[] = [];
      conn.addEventListener('message', (event) => seen.push(`${event.seq}:${String(event.data)}`));
      conn.addEventListener('gap', (event) => seen.push(`gap ${event.first}-${event.last}`));
      await nextEvent(conn, 'open');
      await eventually(async () => (await a.live.group('room').count()) === 1, 5000, 'the member to count');
      a.live.group('room').broadcast('before');
      await until(conn, 'message', () => seen.length === 1, 5000);
      await redis.kill();
      await eventually(async () => a.live.stats().adapter?.connected === false, 5000, 'a to notice the outage');
      a.live.group('room').broadcast('lost one');
      a.live.group('room').broadcast('lost two');
      await redis.start();
      await eventually(async () => a.live.stats().adapter?.connected === true && b.live.stats().adapter?.connected === true, 10_000, 'both adapters to reconnect');
      a.live.group('room').broadcast('after');
      await until(conn, 'message', () => seen.includes('4:after'), 10_000);
      assert.deepEqual(seen, ['1:before', 'gap 2-3', '4:after'], 'the two lost broadcasts are a gap where they were, and nothing else is missing');
    });
  }
});
