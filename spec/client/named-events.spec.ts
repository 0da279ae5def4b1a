// Named messages end to end: `send(x, { event })` and `broadcast(x, { event })` reach the
// client library's `message` event with their name on every transport, and
// addEventListener(name) hears just those; a plain EventSource hears them natively.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import express from 'express';
import { connect, type ChannelMessageEvent, type EventSourceConstructor, type TransportName } from '../../lib/client/node.js';
import { channels, type Channel } from '../../lib/index.js';
import { serve } from '../support/harness.js';
import { Inbox } from '../support/live-server.js';
import { nextEvent, quick, startServer } from './support.js';

const transports: TransportName[] = ['websocket', 'sse', 'poll'];
const shown = (event: ChannelMessageEvent): [string, string | undefined] => [typeof event.data === 'string' ? event.data : `bytes ${[...new Uint8Array(event.data)].join(',')}`, event.name];

describe('named messages', () => {
  for (const transport of transports) {
    it(`reach message with their name, and addEventListener(name) gets just those (${transport})`, async (t) => {
      const srv = await startServer(t);
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      const messages = new Inbox<[string, string | undefined]>();
      const chats = new Inbox<[string, string | undefined]>();
      conn.addEventListener('message', (event) => messages.push(shown(event)));
      conn.addEventListener('chat', (event) => chats.push(shown(event)));
      const closes: unknown[] = [];
      conn.addEventListener('close', (event) => closes.push(event));
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      const room = srv.live.group('room');
      room.add(ch);
      ch.send('hi', { event: 'chat' });
      ch.send('plain');
      ch.send(Buffer.from([1, 2, 3]), { event: 'blob' });
      room.broadcast('news for all', { event: 'news' });
      room.broadcast('more chat', { event: 'chat' });
      ch.send('not a close', { event: 'close' }); // one of the connection's own event names
      assert.deepEqual(await messages.untilCount(6), [
        ['hi', 'chat'],
        ['plain', undefined],
        ['bytes 1,2,3', 'blob'],
        ['news for all', 'news'],
        ['more chat', 'chat'],
        ['not a close', 'close'],
      ]);
      assert.deepEqual(chats.items, [
        ['hi', 'chat'],
        ['more chat', 'chat'],
      ]);
      assert.deepEqual(closes, [], 'a message named close is not the close event');
    });
  }

  it('reach the names listened for with useNativeEventSource, before the open and after it (an EventSource hands a named event only to its listeners)', async (t) => {
    const srv = await startServer(t);
    const conn = connect(srv.url, { ...quick, transports: ['sse'], useNativeEventSource: true, EventSource: EventSource as unknown as EventSourceConstructor });
    t.after(() => conn.close());
    const messages = new Inbox<[string, string | undefined]>();
    const chats = new Inbox<string>();
    conn.addEventListener('message', (event) => messages.push(shown(event)));
    conn.addEventListener('chat', (event) => chats.push(String(event.data)));
    await nextEvent(conn, 'open');
    const ch = await srv.channel();
    ch.send('hi', { event: 'chat' });
    assert.deepEqual(await chats.untilCount(1), ['hi']);
    const news = new Inbox<string>();
    conn.addEventListener('news', (event) => news.push(String(event.data))); // after the open
    ch.send('fresh', { event: 'news' });
    ch.send('plain');
    assert.deepEqual(await news.untilCount(1), ['fresh']);
    assert.deepEqual(await messages.untilCount(3), [
      ['hi', 'chat'],
      ['fresh', 'news'],
      ['plain', undefined],
    ]);
  });

  it('reach a plain EventSource natively, on a plain stream and on a session stream', async (t) => {
    const live = channels();
    const app = express();
    app.use(live);
    const joined = new Inbox<Channel>();
    app.get('/live', (req) => {
      live.group('room').add(req.channel!);
      joined.push(req.channel!);
    });
    const served = await serve(t, app, live);
    for (const [i, path] of ['/live', '/live?ecs=new'].entries()) {
      const source = new EventSource(`${served.url}${path}`);
      t.after(() => source.close());
      const chats = new Inbox<string>();
      const unnamed = new Inbox<string>();
      source.addEventListener('chat', (event) => chats.push(event.data));
      source.addEventListener('message', (event) => unnamed.push(event.data));
      await new Promise((resolve) => source.addEventListener('open', resolve, { once: true }));
      await joined.untilCount(i + 1); // the route ran for this stream
      live.group('room').broadcast('hello', { event: 'chat' });
      live.group('room').broadcast('plain');
      assert.deepEqual(await chats.untilCount(1), ['hello'], path);
      assert.deepEqual(await unnamed.untilCount(1), ['plain'], path);
      source.close();
      for (const member of live.group('room')) member.close();
    }
  });
});
