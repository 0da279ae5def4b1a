import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import type { Channel, ChannelGroup, Message } from '../../lib/index.js';
import { GroupRegistry } from '../../lib/groups/registry.js';
import { collectUntil, Inbox, rawSse, settledHeapUsed, startLiveServer, type LiveServer } from '../support/live-server.js';

const CHURN = 100_000;

/** A server whose `/open` route claims the request's channel and hands it to the test. */
async function channelServer(t: TestContext): Promise<{ s: LiveServer; opened: Inbox<Channel>; received: Inbox<Message> }> {
  const opened = new Inbox<Channel>();
  const received = new Inbox<Message>();
  const s = await startLiveServer({ heartbeat: 0 }, (app) => {
    app.get('/open', (req) => {
      const ch = req.channel!;
      ch.onReceive(received.push); // claims the channel
      opened.push(ch);
    });
  });
  t.after(() => s.close());
  return { s, opened, received };
}

/** One real SSE channel, open until the test ends. */
async function oneChannel(t: TestContext): Promise<{ s: LiveServer; ch: Channel }> {
  const { s, opened } = await channelServer(t);
  const client = await rawSse(s.port, '/open');
  t.after(() => client.socket.destroy());
  const [ch] = await opened.untilCount(1);
  return { s, ch: ch! };
}

// Joins and leaves `count` groups with fresh names, holding none of them afterwards.
function churn(group: (name: string) => ChannelGroup, ch: Channel, prefix: string, count: number): void {
  for (let i = 0; i < count; i++) group(`${prefix}-${i}`).add(ch).delete(ch);
}

// Kept out of the test body so that no local variable of the test holds the group.
function joinWithoutHolding(group: (name: string) => ChannelGroup, name: string, ch: Channel): WeakRef<ChannelGroup> {
  return new WeakRef(group(name).add(ch));
}

describe('live.group(name)', () => {
  it('returns the same group for the same name and another for another name', async (t) => {
    const { s } = await channelServer(t);
    const lobby = s.live.group('lobby');
    assert.equal(s.live.group('lobby'), lobby);
    assert.equal(lobby.name, 'lobby');
    assert.notEqual(s.live.group('kitchen'), lobby);
    assert.notEqual(s.live.group('Lobby'), lobby, 'names are case-sensitive');
  });

  it('keeps groups per live instance', async (t) => {
    const { s } = await channelServer(t);
    const { s: other } = await channelServer(t);
    assert.notEqual(other.live.group('lobby'), s.live.group('lobby'));
  });

  it('rejects a name that is not a string', async (t) => {
    const { s } = await channelServer(t);
    assert.throws(() => s.live.group(42 as unknown as string), { name: 'TypeError', message: 'group() takes a name string, got number' });
  });

  it('keeps returning a group someone still holds, through garbage collections and churn', async (t) => {
    const { s, ch } = await oneChannel(t);
    const held = s.live.group('held');
    held.add(ch).delete(ch); // it was occupied once and is empty again: only our reference keeps it
    const probe = joinWithoutHolding(s.live.group, 'probe', ch);
    s.live.group('probe').delete(ch);
    churn(s.live.group, ch, 'churn', 10_000);
    assert.equal(await collectUntil(() => probe.deref() === undefined), true, 'an unheld empty group is collected');
    assert.equal(s.live.group('held'), held);
  });

  it('keeps an occupied group although nobody holds it, and lets it go once it is empty', async (t) => {
    const { s, ch } = await oneChannel(t);
    const weak = joinWithoutHolding(s.live.group, 'busy', ch);
    await collectUntil(() => false, 4);
    assert.notEqual(weak.deref(), undefined);
    assert.equal(s.live.group('busy'), weak.deref());
    assert.equal(s.live.group('busy').has(ch), true);

    ch.close(); // leaves the group by itself: the group is now empty and unheld
    assert.equal(await collectUntil(() => weak.deref() === undefined), true);
    assert.equal(s.live.group('busy').size, 0, 'the name gets a fresh, empty group');
  });

  it(`does not grow with churn: ${CHURN.toLocaleString('en')} short-lived names leave (almost) no heap behind`, async (t) => {
    const { s, ch } = await oneChannel(t);
    churn(s.live.group, ch, 'warm-up', 1000);
    const before = await settledHeapUsed();
    churn(s.live.group, ch, 'room', CHURN);
    const after = await settledHeapUsed();
    t.diagnostic(`heap grew by ${after - before} bytes after ${CHURN} names`);
    // Each name left behind costs at least its key and WeakRef in the registry's map, about
    // 100 bytes, so a leak of the names would show as 10 MB or more. 1 MB leaves room for
    // V8's own noise (code, feedback vectors, map capacity not yet shrunk).
    assert.ok(after - before < 1024 * 1024, `heap grew by ${after - before} bytes after ${CHURN} names`);
  });
});

describe('GroupRegistry', () => {
  it(`forgets ${CHURN.toLocaleString('en')} empty, unreferenced names once they are collected`, async (t) => {
    const { ch } = await oneChannel(t);
    const registry = new GroupRegistry(undefined, (error) => assert.fail(String(error)));
    const held = registry.group('held');
    churn((name) => registry.group(name), ch, 'room', CHURN);
    // Finalizers never run inside a synchronous loop: every name is still known here.
    assert.equal(registry.size, CHURN + 1);
    assert.equal(await collectUntil(() => registry.size === 1), true, `${registry.size - 1} names left behind`);
    assert.equal(registry.group('held'), held);
  });

  it('does not forget a name that got a new group while the old one waited for its finalizer', async (t) => {
    const { ch } = await oneChannel(t);
    const registry = new GroupRegistry(undefined, (error) => assert.fail(String(error)));
    const first = joinWithoutHolding((name) => registry.group(name), 'room', ch);
    registry.group('room').delete(ch);
    assert.equal(await collectUntil(() => first.deref() === undefined), true);
    const second = registry.group('room').add(ch);
    await collectUntil(() => false, 4);
    assert.equal(registry.group('room'), second);
    assert.equal(registry.size, 1);
  });
});

describe('live.channels and live.stats()', () => {
  it('lists the open channels and counts them per transport', async (t) => {
    const { s, opened, received } = await channelServer(t);
    const ws = new WebSocket(s.wsUrl('/open'));
    const wsOpened = once(ws, 'open');
    t.after(() => ws.terminate());
    const es = new EventSource(s.url('/open'));
    t.after(() => es.close());
    const poll = fetch(s.url('/open'));
    const [a, b, c] = await opened.untilCount(3);
    assert.deepEqual(new Set(s.live.channels), new Set([a, b, c]));
    assert.deepEqual(s.live.stats(), { open: { websocket: 1, sse: 1, http: 1, poll: 0 }, sent: 0, dropped: 0, received: 0, queued: 0, refused: { maxChannels: 0, maxChannelsPerIp: 0 }, handshakesWaiting: 0 });

    const all = s.live.group('all');
    for (const ch of s.live.channels) all.add(ch);
    assert.equal(all.broadcast('one'), 3); // answers (and so closes) the long-poll
    assert.equal((await (await poll).text()), 'one');
    const httpChannel = [a, b, c].find((ch) => ch?.transport === 'http');
    assert.equal(s.live.channels.has(httpChannel!), false);

    await wsOpened;
    ws.send('hello');
    ws.send('again');
    await received.untilCount(2);
    assert.deepEqual(s.live.stats(), { open: { websocket: 1, sse: 1, http: 0, poll: 0 }, sent: 3, dropped: 0, received: 2, queued: 0, refused: { maxChannels: 0, maxChannelsPerIp: 0 }, handshakesWaiting: 0 });

    ws.close();
    es.close();
    await waitForEmpty(s);
    assert.equal(s.live.channels.size, 0);
    assert.deepEqual(s.live.stats().open, { websocket: 0, sse: 0, http: 0, poll: 0 });
  });
});

// Resolves once every open channel reported its close.
async function waitForEmpty(s: LiveServer): Promise<void> {
  await Promise.all([...s.live.channels].map((ch) => new Promise((resolve) => ch.onClose(resolve))));
}
