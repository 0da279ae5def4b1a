// Takeover edge cases (docs/scaling.md, "Takeover"), with two `live` instances in this process
// standing for two processes on the shared Redis: client messages the old owner held for a
// handler are delivered once by the new one, and two resumes of one session arriving at once
// are both served.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { channels, type Channel, type Live } from '../../lib/index.js';
import { redisAdapter } from '../../lib/redis/index.js';
import { connect } from '../../lib/client/node.js';
import { Inbox, serve, type Served } from '../support/harness.js';
import { nextEvent } from '../client/support.js';
import { sharedRedisUrl, testPrefix, withoutRedis } from '../support/redis.js';
import { roundRobin } from './balancer.js';
import { quick } from './members.js';

const skip = await withoutRedis();

interface Instance extends Served {
  live: Live;
  routed: Inbox<Channel>;
}

/** One "process": its route hands each channel to the test, which decides when to listen. */
async function instance(t: TestContext, prefix: string): Promise<Instance> {
  const live = channels({ adapter: redisAdapter({ url: sharedRedisUrl, prefix }), heartbeat: 0 });
  live.on('error', (error) => console.error('live error:', error));
  const routed = new Inbox<Channel>();
  const app = express();
  app.use(live);
  app.get('/live', (req) => {
    req.channel!.onClose(() => undefined); // claims it
    routed.push(req.channel!);
  });
  return { ...(await serve(t, app, live)), live, routed };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('taking a session over', { skip }, () => {
  it('delivers the client messages the old owner held for a handler once, on the new owner, before later ones', async (t) => {
    const prefix = testPrefix();
    const a = await instance(t, prefix);
    const b = await instance(t, prefix);
    const balancer = await roundRobin(t, [a.port, b.port]);
    const conn = connect(`${balancer.url}/live`, { ...quick, transports: ['websocket'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    await a.routed.next(2000, 'the route on the first process'); // which never listens
    for (const text of ['m1', 'm2', 'm3']) conn.send(text);
    // Received there, held for a handler, and acknowledged: the client let them go.
    await until(() => a.live.stats().received === 3 && conn.queued === 0, 5000, 'the first process to receive, hold and acknowledge three messages');
    const reopened = nextEvent(conn, 'open', 10_000);
    balancer.cut();
    assert.equal((await reopened).resumed, true);
    const moved = await b.routed.next(5000, 'the route on the second process');
    assert.equal(moved.resumed, true);
    const got: string[] = [];
    moved.onReceive((message) => got.push(String(message)));
    conn.send('m4');
    await until(() => got.length >= 4, 5000, 'four messages on the second process');
    assert.deepEqual(got, ['m1', 'm2', 'm3', 'm4']);
  });

  it('serves two resumes of one session that reach another process at once', async (t) => {
    const prefix = testPrefix();
    const a = await instance(t, prefix);
    const b = await instance(t, prefix);
    const hello = (await (await fetch(`${a.url}/live?ecs=new&ect=poll`)).json()) as { session: string; secret: string };
    await a.routed.next(2000, 'the route on the owner');
    const resume = (): Promise<Response> => fetch(`${b.url}/live?ecs=${hello.session}&eca=0`, { headers: { accept: 'text/event-stream', 'ec-secret': hello.secret } });
    // The second is served once the first has brought the session here, and supersedes it:
    // the first stream then ends (before its headers reached us, its fetch fails), never 404.
    const settled = await Promise.allSettled([resume(), resume()]);
    const statuses = settled.map((r) => (r.status === 'fulfilled' ? r.value.status : 'superseded'));
    assert.ok(statuses.includes(200) && statuses.every((s) => s === 200 || s === 'superseded'), `answers: ${statuses.join(', ')}`);
    for (const r of settled) if (r.status === 'fulfilled') await r.value.body?.cancel();
    assert.equal((await b.routed.next(2000, 'the route on the new owner')).resumed, true);
    assert.equal(b.routed.size, 0, 'the route ran once: the second resume was served as a local one');
  });
});
