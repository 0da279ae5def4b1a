// A request the client library meant as a WebSocket (`ect=ws`) or an event stream (`eco=1`)
// that reaches the app as something else — a proxy dropped the upgrade headers or rewrote
// Accept — is refused at once, before the route, and never becomes a plain channel.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { channels, type Channel } from '../../lib/index.js';
import { connect } from '../../lib/client/node.js';
import { openWebSocket, serve } from '../support/harness.js';
import { nextEvent, quick } from '../client/support.js';

async function lobbyApp(t: TestContext) {
  const live = channels();
  const app = express();
  app.use(live);
  const lobby = live.group('lobby');
  const routed: Channel[] = [];
  app.get('/live', (req) => {
    const ch = req.channel!;
    routed.push(ch);
    lobby.add(ch);
    ch.send('welcome');
  });
  const served = await serve(t, app, live);
  return { live, lobby, routed, served };
}

describe('requests a proxy turned into another transport', () => {
  it('answers a WebSocket request (ect=ws) without its upgrade headers 426 at once, and runs no route', async (t) => {
    const s = await lobbyApp(t);
    const res = await fetch(`${s.served.url}/live?ecs=new&ect=ws`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'upgrade-required');
    assert.match(body.message, /arrived without its Upgrade headers: a proxy in front dropped them/);
    assert.deepEqual(s.routed, []);
    assert.equal(s.lobby.size, 0);
    assert.equal(s.lobby.broadcast('to no one'), 0);
  });

  it('answers a resume marked ect=ws without upgrade headers 426 too', async (t) => {
    const s = await lobbyApp(t);
    const res = await fetch(`${s.served.url}/live?ecs=AAAAAAAAAAAAAAAAAAAAAA&eca=0&ect=ws`);
    assert.equal(res.status, 426);
    assert.equal(((await res.json()) as { error: string }).error, 'upgrade-required');
  });

  it('answers an event stream request (eco=1) that lost its Accept 406, and runs no route', async (t) => {
    const s = await lobbyApp(t);
    const res = await fetch(`${s.served.url}/live?ecs=new&eco=1`, { headers: { accept: '*/*' } });
    assert.equal(res.status, 406);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'event-stream-required');
    assert.match(body.message, /without Accept: text\/event-stream/);
    assert.deepEqual(s.routed, []);
  });

  it('leaves real upgrades, real event streams and unmarked plain requests alone', async (t) => {
    const s = await lobbyApp(t);
    const ws = await openWebSocket(t, `${s.served.wsUrl}/live?ecs=new&ect=ws`);
    assert.equal(ws.readyState, 1);
    const sse = await fetch(`${s.served.url}/live?ecs=new&eco=1`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    await sse.body?.cancel();
    const plain = await fetch(`${s.served.url}/live`);
    assert.equal(await plain.text(), 'welcome');
    assert.equal(s.routed.length, 3);
  });

  it('the client, refused its WebSocket this way, opens SSE at once and is the only member its group counts', async (t) => {
    const s = await lobbyApp(t);
    // A stand-in for a proxy that drops the upgrade headers: upgrades are not routed at all,
    // so the client's WebSocket request (ect=ws) is refused by the middleware as a plain GET.
    s.served.server.removeAllListeners('upgrade');
    s.served.server.on('upgrade', (req, socket) => {
      void fetch(`${s.served.url}${req.url}`).then(async (res) => {
        socket.end(`HTTP/1.1 ${res.status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      });
    });
    const conn = connect(`${s.served.url}/live`, { ...quick, openTimeout: 5000 });
    t.after(() => conn.close());
    const errored = nextEvent(conn, 'error');
    const message = nextEvent(conn, 'message');
    assert.equal((await errored).transport, 'websocket');
    assert.equal((await message).data, 'welcome');
    assert.equal(conn.transport, 'sse');
    assert.equal(s.routed.length, 1);
    assert.equal(s.lobby.broadcast('counted'), 1);
  });
});
