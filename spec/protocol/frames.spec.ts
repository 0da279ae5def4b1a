import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import express from 'express';
import fc from 'fast-check';
import WebSocket from 'ws';
import { channels, type CloseReason } from '../../lib/index.js';
import { parseClientText, webSocketControlText } from '../../lib/protocol/frames.js';
import { parseMessageList, toJsonMessage } from '../../lib/transports/json-messages.js';
import { sseControlEvent, sseSessionEvent } from '../../lib/transports/sse-session-events.js';
import { deferred, serve, withTimeout } from '../support/harness.js';
import { runs } from '../support/property.js';

describe('session codec', () => {
  it('reads client text frames: m for messages, c for acknowledgements', () => {
    assert.deepEqual(parseClientText('mhello'), { message: 'hello' });
    assert.deepEqual(parseClientText('m'), { message: '' });
    assert.deepEqual(parseClientText('c{"type":"ack","seq":7}'), { control: { type: 'ack', seq: 7 } });
  });

  it('refuses malformed frames with a reason', () => {
    assert.deepEqual(parseClientText('hello'), { error: 'a session text frame must start with "m" or "c"' });
    assert.deepEqual(parseClientText(''), { error: 'a session text frame must start with "m" or "c"' });
    for (const bad of ['c{', 'c{"type":"ack"}', 'c{"type":"ack","seq":-1}', 'c{"type":"ack","seq":1.5}', 'c{"type":"nope","seq":1}', 'cnull']) {
      assert.deepEqual(parseClientText(bad), { error: 'unknown control frame' }, bad);
    }
  });

  it('writes control frames and events', () => {
    assert.equal(webSocketControlText({ type: 'ack', received: 3 }), 'c{"type":"ack","received":3}');
    assert.equal(sseControlEvent({ type: 'ack', received: 3 }), 'event: ec-ack\ndata: {"received":3}\n\n');
    assert.equal(sseSessionEvent('a\nb', { event: 'news' }), 'event: news\ndata: a\ndata: b\n\n');
    assert.equal(sseSessionEvent(Buffer.from([0, 1, 2]), {}), 'event: ec-binary\ndata: AAEC\n\n');
  });

  it('reads POST bodies of strings and base64 messages', () => {
    assert.deepEqual(parseMessageList('["a",{"base64":"AAEC"}]'), ['a', Buffer.from([0, 1, 2])]);
    assert.deepEqual(parseMessageList('[]'), []);
    assert.deepEqual(toJsonMessage(Buffer.from([255])), { base64: '/w==' });
  });
});

describe('a session WebSocket that sends malformed frames', () => {
  for (const [frame, reason] of [
    ['no type prefix', 'a session text frame must start with "m" or "c"'],
    ['c{"type":"ack","seq":"x"}', 'unknown control frame'],
  ] as const) {
    it(`is closed with 1002 (${reason}) and ends its session, and nobody else is harmed`, async (t) => {
      const live = channels();
      const app = express();
      app.use(live);
      const reasons: CloseReason[] = [];
      const firstClosed = deferred<CloseReason>();
      app.get('/live', (req) => {
        const ch = req.channel!;
        ch.onReceive((m) => ch.send(`echo:${String(m)}`));
        ch.onClose((r) => {
          reasons.push(r);
          firstClosed.resolve(r);
        });
      });
      const served = await serve(t, app, live);
      const bystander = new WebSocket(`${served.wsUrl}/live?ecs=new`);
      t.after(() => bystander.terminate());
      await once(bystander, 'message'); // hello
      const bad = new WebSocket(`${served.wsUrl}/live?ecs=new`);
      await once(bad, 'message');
      bad.send(frame);
      const [code, why] = (await once(bad, 'close')) as [number, Buffer];
      assert.equal(code, 1002);
      assert.equal(why.toString(), reason);
      assert.equal(await withTimeout(firstClosed.promise, 2000, 'onClose'), 'protocol-error');
      assert.equal(live.stats().open.websocket, 1, 'the session ended, it does not wait for a resume');
      bystander.send('mstill here');
      const [echo] = (await once(bystander, 'message')) as [Buffer];
      assert.equal(echo.toString(), 'mecho:still here');
    });
  }
});

describe('session POSTs with arbitrary bodies and parameters', () => {
  it('are answered 200, 400, 404, 409 or 413 with JSON, and the server keeps serving', async (t) => {
    const live = channels({ maxPayload: 512 });
    const app = express();
    app.use(live);
    app.get('/live', (req) => req.channel!.onReceive(() => undefined));
    const served = await serve(t, app, live);
    const open = await fetch(`${served.url}/live?ecs=new&ect=poll`);
    const { session, secret } = (await open.json()) as { session: string; secret: string };
    const headers = { 'content-type': 'application/json', 'ec-secret': secret };
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 600 }), fc.constantFrom('ecm=1', 'ecm=0', 'ecm=x', 'ecm=99', '', 'eca=5', 'ecm=1&eca=-1'), async (body, query) => {
        const res = await fetch(`${served.url}/live?ecs=${session}&${query}`, { method: 'POST', body, headers });
        assert.ok([200, 400, 404, 409, 413].includes(res.status), `status ${res.status}`);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
        await res.json();
      }),
      runs(120),
    );
    const check = await fetch(`${served.url}/live?ecs=${session}&ecm=1`, { method: 'POST', body: '[]', headers });
    assert.equal(check.status, 200);
  });
});

describe('reserved event names', () => {
  it('refuses an SSE event name starting with ec- on a session and in a broadcast, before writing', async (t) => {
    const live = channels();
    const app = express();
    app.use(live);
    const outcome = deferred<string>();
    app.get('/live', (req) => {
      const ch = req.channel!;
      try {
        ch.send('x', { event: 'ec-hello' });
      } catch (error) {
        outcome.resolve((error as Error).message);
      }
      ch.send('nothing was written before: this claims the channel now');
    });
    const served = await serve(t, app, live);
    const res = await fetch(`${served.url}/live?ecs=new`, { headers: { accept: 'text/event-stream' } });
    t.after(() => res.body?.cancel());
    assert.equal(await withTimeout(outcome.promise, 2000, 'the refused send'), 'SSE event names starting with "ec-" are reserved for the session protocol, got "ec-hello"');
    assert.throws(() => live.group('g').broadcast('x', { event: 'ec-close' }), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_FIELD' });
  });
});
