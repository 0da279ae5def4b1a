// Three server processes of one app on the shared Redis, behind a round-robin balancer with
// no stickiness (issue 13): broadcasts reach members on every process, a polling client whose
// requests land on any process loses nothing either way, a WebSocket or SSE resume that lands
// elsewhere takes the session over with nothing lost or doubled, and the clients of a killed
// process are told unknown-session.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { connect } from '../../lib/client/node.js';
import { Inbox, openSse, openWebSocket, wsInbox } from '../support/harness.js';
import { nextEvent, until } from '../client/support.js';
import { testPrefix, withoutRedis } from '../support/redis.js';
import { roundRobin } from './balancer.js';
import { cluster, handled, handledAtLeast, ownerWith, quick, ranges, reported, reportsOf, type Member } from './members.js';

const skip = await withoutRedis();
describe('a cluster of three processes behind a round-robin balancer', { skip }, () => {
  it('delivers a broadcast from one process to WebSocket, SSE and poll members on all three, once each, in order', async (t) => {
    const members = await cluster(t);
    const inboxes = [];
    for (const member of members) {
      inboxes.push(wsInbox(await openWebSocket(t, `ws://127.0.0.1:${member.port}/live`)));
      await reported(member, 'joined');
    }
    const sse = await openSse(t, `http://127.0.0.1:${members[1]!.port}/live`);
    await reported(members[1]!, 'joined');
    const poller = connect(`http://127.0.0.1:${members[2]!.port}/live`, { ...quick, transports: ['poll'] });
    t.after(() => poller.close());
    await nextEvent(poller, 'open');
    await reported(members[2]!, 'joined');
    const polled: string[] = [];
    poller.addEventListener('message', (event) => polled.push(String(event.data)));
    // Each process writes its sizes within 50 ms: ask until all five members count.
    for (let count = 0; count !== 5; ) {
      members[0]!.ask({ op: 'count' });
      count = (await reported(members[0]!, 'count')).count as number;
    }
    const texts = Array.from({ length: 50 }, (_, i) => `b${i}`);
    members[0]!.ask({ op: 'broadcast', texts });
    for (const [i, inbox] of inboxes.entries()) {
      const got: string[] = [];
      for (const _ of texts) got.push((await inbox.next(5000, `process ${i}'s WebSocket member`)).data.toString());
      assert.deepEqual(got, texts, `the WebSocket member on process ${i}`);
    }
    const events: string[] = [];
    for (const _ of texts) events.push((await sse.events.next(5000, 'the SSE member')).data);
    assert.deepEqual(events, texts);
    await until(poller, 'message', () => polled.length >= texts.length, 10_000);
    assert.deepEqual(polled, texts);
  });

  it('serves a polling client whose every request lands on the next process: 300 messages each way, once, in order', async (t) => {
    const members = await cluster(t);
    const balancer = await roundRobin(t, members.map((m) => m.port));
    const conn = connect(`${balancer.url}/live`, { ...quick, transports: ['poll'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const got: string[] = [];
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    const sent = Array.from({ length: 300 }, (_, i) => `c${i}`);
    for (const text of sent) conn.send(text);
    const down = Array.from({ length: 300 }, (_, i) => `s${i}`);
    for (let i = 0; i < down.length; i += 30) members[i % 3]!.ask({ op: 'broadcast', texts: down.slice(i, i + 30) });
    await until(conn, 'message', () => got.length >= down.length, 20_000);
    const owner = await ownerWith(members, sent.length, 10_000);
    const received = members.flatMap((m) => m.received);
    assert.deepEqual(owner.received, sent, 'the owner got every client message once, in order');
    assert.equal(received.length, sent.length, 'no other process got any');
    // Broadcasts from three publishers: each publisher's own are in its order.
    for (let p = 0; p < 3; p++) {
      const mine = down.filter((_, i) => Math.floor(i / 30) % 3 === p);
      assert.deepEqual(got.filter((text) => mine.includes(text)), mine, `publisher ${p}'s broadcasts`);
    }
    assert.equal(new Set(got).size, down.length, 'each once');
    assert.ok(new Set(balancer.routed).size === 3, 'requests went to every process');
  });

  it('takes a WebSocket session over on the next process at each of 20 cuts: 2,000 broadcasts from a fourth process and 2,000 client messages, each once, in order', { timeout: 120_000 }, async (t) => {
    const prefix = testPrefix();
    const members = await cluster(t, 3, prefix);
    const [publisher] = await cluster(t, 1, prefix); // not behind the balancer: it only broadcasts
    const balancer = await roundRobin(t, members.map((m) => m.port));
    const conn = connect(`${balancer.url}/live`, { ...quick, transports: ['websocket'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    await until(conn, 'open', () => reportsOf(members, 'joined').length === 1, 5000).catch(() => undefined);
    const got: string[] = [];
    let gaps = 0;
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    conn.addEventListener('gap', () => gaps++);
    const errors: string[] = [];
    conn.addEventListener('error', (event) => errors.push(`${event.transport}: ${event.error.message}`));
    // Each process writes its sizes within 50 ms: the group counts the one member everywhere.
    for (let count = 0; count !== 1; ) {
      publisher!.ask({ op: 'count' });
      count = (await reported(publisher!, 'count')).count as number;
    }
    const rounds = 20;
    const perRound = 100;
    const total = rounds * perRound;
    publisher!.ask({ op: 'stream', texts: Array.from({ length: total }, (_, i) => `b${i}`) });
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < perRound; i++) conn.send(`c${round * perRound + i}`);
      // Cut while broadcasts (one a millisecond) and client messages are on their way.
      await until(conn, 'message', () => got.length >= (round * perRound) / 2 + 1, 10_000);
      const reopened = nextEvent(conn, 'open', 10_000).catch((error: Error) => {
        throw new Error(`round ${round}: ${error.message}; the attempts: ${errors.join(' | ')}`);
      });
      balancer.cut();
      const open = await reopened;
      assert.deepEqual([open.transport, open.resumed], ['websocket', true], `round ${round}`);
    }
    await until(conn, 'message', () => got.length >= total, 20_000);
    const expected = (prefix: string) => Array.from({ length: total }, (_, i) => `${prefix}${i}`);
    assert.deepEqual(got, expected('b'), `every broadcast once, in order; got ${ranges(got)}`);
    assert.equal(gaps, 0, 'no gap');
    await handledAtLeast(members, total, 20_000);
    assert.deepEqual(handled(members), expected('c'), "every client message reached the route's handlers once, in order");
    // Each cut moved the session: the old owner's channel closed with 'moved', the route ran again.
    assert.equal(reportsOf(members, 'joined').filter((r) => r.resumed === true).length, rounds);
    assert.deepEqual(reportsOf(members, 'channel-closed').map((r) => r.reason), Array<string>(rounds).fill('moved'));
  });

  it('takes over the session of a plain EventSource that comes back with Last-Event-ID on another process', async (t) => {
    const members = await cluster(t);
    const balancer = await roundRobin(t, members.map((m) => m.port));
    const source = new EventSource(`${balancer.url}/live?ecs=new`);
    t.after(() => source.close());
    const got = new Inbox<string>();
    source.addEventListener('message', (event) => got.push(String(event.data)));
    await once(source, 'open');
    const owner = balancer.routed[0] as number;
    await reported(members[owner]!, 'joined');
    members[owner]!.ask({ op: 'broadcast', texts: ['one'] });
    assert.equal(await got.next(5000, 'the first broadcast'), 'one');
    balancer.cut();
    // Sent while the EventSource is away: it must come after the takeover, from its buffer.
    members[(owner + 2) % 3]!.ask({ op: 'broadcast', texts: ['two'] });
    await reported(members[(owner + 2) % 3]!, 'broadcasted');
    const two = await got.next(15_000, 'the broadcast sent while away').catch((error: Error) => {
      // What each process saw, for the failure's message: routes run, channels closed, errors.
      const seen = members.map((m, i) => `process ${i}: ${JSON.stringify(m.log.filter((r) => r.op !== 'received'))}`);
      throw new Error(`${error.message}; routed ${balancer.routed.join(',')}; ${seen.join('; ')}`);
    });
    assert.equal(two, 'two');
    members[owner]!.ask({ op: 'broadcast', texts: ['three'] });
    assert.equal(await got.next(5000, 'a broadcast after the takeover'), 'three');
    const joined = reportsOf(members, 'joined');
    assert.deepEqual(joined.map((r) => r.resumed), [false, true], 'one session, its route run again where it resumed');
    assert.deepEqual(reportsOf(members, 'channel-closed').map((r) => r.reason), ['moved']);
  });

  const resumes = [
    { name: 'an SSE session', transports: ['sse'], lands: 'sse' },
    { name: 'a session of the default transports', transports: ['websocket', 'sse', 'poll'], lands: 'websocket' },
  ] as const;
  for (const { name, transports, lands } of resumes) {
    it(`takes over ${name} cut off by the network on another process: messages both ways, once, in order; the old channel closes with moved`, async (t) => {
      const members = await cluster(t);
      const balancer = await roundRobin(t, members.map((m) => m.port));
      const conn = connect(`${balancer.url}/live`, { ...quick, transports: [...transports] });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const got: string[] = [];
      conn.addEventListener('message', (event) => got.push(String(event.data)));
      conn.send('before');
      await handledAtLeast(members, 1, 5000);
      const errors: string[] = [];
      conn.addEventListener('error', (event) => errors.push(`${event.transport}: ${event.error.message}`));
      const reopened = nextEvent(conn, 'open', 20_000).catch((error: Error) => {
        throw new Error(`${error.message}; the attempts: ${errors.join(' | ')}`);
      });
      balancer.cut();
      members[0]!.ask({ op: 'broadcast', texts: ['while away'] });
      const open = await reopened;
      assert.deepEqual([open.transport, open.resumed], [lands, true]);
      conn.send('after');
      members[1]!.ask({ op: 'broadcast', texts: ['later'] });
      await until(conn, 'message', () => got.length >= 2, 10_000);
      assert.deepEqual(got, ['while away', 'later']);
      await handledAtLeast(members, 2, 10_000);
      assert.deepEqual(handled(members), ['before', 'after']);
      // The resume reached the next process (the balancer's turn): the session moved there.
      assert.deepEqual(reportsOf(members, 'channel-closed').map((r) => r.reason), ['moved']);
      assert.deepEqual(reportsOf(members, 'joined').map((r) => r.resumed), [false, true]);
    });
  }

  it('answers the last poll of a session closed between polls on whichever process it lands: its last messages and the reason', async (t) => {
    const members = await cluster(t);
    const balancer = await roundRobin(t, members.map((m) => m.port));
    // By hand, so that no poll is held when the session closes: each request goes to the next process.
    const open = await fetch(`${balancer.url}/live?ecs=new&ect=poll`);
    const hello = (await open.json()) as { session: string; secret: string };
    const owner = members[balancer.routed[0] as number] as Member;
    await reported(owner, 'joined');
    owner.ask({ op: 'close' });
    await reported(owner, 'closed');
    const last = await fetch(`${balancer.url}/live?ecs=${hello.session}&ect=poll&eca=0`, { headers: { 'ec-secret': hello.secret } });
    assert.notEqual(balancer.routed[1], balancer.routed[0], 'the last poll went to another process');
    const answer = (await last.json()) as { messages?: string[]; closed?: string; error?: string };
    assert.deepEqual([last.status, answer.messages, answer.closed], [200, ['last words'], 'server-close']);
  });

  it("tells the clients of a process killed with SIGKILL unknown-session within 15 s", { timeout: 40_000 }, async (t) => {
    const members = await cluster(t);
    const balancer = await roundRobin(t, members.map((m) => m.port));
    const conn = connect(`${balancer.url}/live`, { ...quick, transports: ['poll'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const errors: string[] = [];
    conn.addEventListener('error', (event) => errors.push(`${event.transport}: ${event.error.message}`));
    conn.send('hello');
    const owner = await ownerWith(members, 1, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}; the client's errors: ${errors.join(' | ') || 'none'}; routed: ${balancer.routed.join(',')}`);
    });
    const closed = nextEvent(conn, 'close', 25_000);
    const killedAt = Date.now();
    owner.child.kill('SIGKILL');
    const event = await closed;
    const after = Date.now() - killedAt;
    assert.deepEqual([event.code, event.reason], [4404, 'unknown-session']);
    // 15 s for the owner's beat to run out, then the client's next poll and its retries (a
    // loaded machine stretches those).
    assert.ok(after <= 15_000 + 4000, `told after ${after} ms`);
  });
});
