// A rolling deploy of three processes behind a round-robin balancer, on the shared Redis
// (issue 17, with issue 13's takeover): each process in turn leaves the rotation, a new one
// joins, and the old one drains — its sessions' clients reconnect to the others, which take
// the sessions over — while a fourth process broadcasts steadily. Nothing is lost or doubled.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { connect, type Connection } from '../../lib/client/node.js';
import { withTimeout } from '../support/harness.js';
import { nextEvent, until } from '../client/support.js';
import { testPrefix, withoutRedis } from '../support/redis.js';
import { roundRobin } from './balancer.js';
import { cluster, handled, handledAtLeast, quick, ranges, reported, startMember, type Member } from './members.js';

const skip = await withoutRedis();

interface Watched {
  transport: string;
  conn: Connection;
  got: string[];
  gaps: number;
  closes: string[];
  errors: string[];
}

function watch(conn: Connection, transport: string): Watched {
  const watched: Watched = { transport, conn, got: [], gaps: 0, closes: [], errors: [] };
  conn.addEventListener('error', (event) => watched.errors.push(`${event.transport}: ${event.error.message}`));
  conn.addEventListener('message', (event) => watched.got.push(String(event.data)));
  conn.addEventListener('gap', () => watched.gaps++);
  conn.addEventListener('close', (event) => watched.closes.push(`${event.code} ${event.reason}`));
  return watched;
}

describe('a rolling restart of three processes through Redis', { skip }, () => {
  it('drains each process in turn under steady broadcasts: WebSocket, SSE and poll sessions lose and double nothing, both ways', { timeout: 120_000 }, async (t) => {
    const prefix = testPrefix();
    const members = await cluster(t, 3, prefix);
    const [publisher] = await cluster(t, 1, prefix); // not behind the balancer: it only broadcasts
    const ports = members.map((m) => m.port);
    const balancer = await roundRobin(t, ports);
    const clients: Watched[] = [];
    for (const transport of ['websocket', 'sse', 'poll'] as const) {
      const conn = connect(`${balancer.url}/live`, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      clients.push(watch(conn, transport));
    }
    for (let count = 0; count !== clients.length; ) {
      publisher!.ask({ op: 'count' });
      count = (await reported(publisher!, 'count')).count as number;
    }
    const total = 3000;
    publisher!.ask({ op: 'stream', texts: Array.from({ length: total }, (_, i) => `b${i}`), every: 3 });
    const everyone: Member[] = [...members];
    const perStep = 50;
    for (let step = 0; step < members.length; step++) {
      for (const client of clients) for (let i = 0; i < perStep; i++) client.conn.send(`${client.transport}-${step * perStep + i}`);
      const old = members[step] as Member;
      // As a load balancer does once readiness fails: no new connection goes to the old process.
      ports.splice(ports.indexOf(old.port), 1);
      const fresh = await startMember(t, prefix);
      ports.push(fresh.port);
      everyone.push(fresh);
      old.ask({ op: 'drain', within: 1000 });
      const drained = await reported(old, 'drained', 30_000);
      assert.equal(drained.open, 0, `process ${step} had every channel taken over or closed`);
      await withTimeout(once(old.child, 'exit'), 10_000, `process ${step} to exit`);
    }
    for (const client of clients) {
      await until(client.conn, 'message', () => client.got.length >= total, 30_000).catch(() => undefined);
      const seen = everyone.map((m, i) => `process ${i}: ${JSON.stringify(m.log.filter((r) => r.op !== 'received' && r.op !== 'count'))}`);
      assert.deepEqual(client.got, Array.from({ length: total }, (_, i) => `b${i}`), `${client.transport}: every broadcast once, in order; got ${ranges(client.got)}; its errors: ${client.errors.join(' | ')}; ${seen.join('; ')}; the balancer's last requests: ${balancer.history.slice(-40).join(' | ')}`);
      assert.deepEqual([client.gaps, client.closes], [0, []], `${client.transport}: no gap, never closed`);
    }
    const sent = clients.length * members.length * perStep;
    await handledAtLeast(everyone, sent, 20_000);
    for (const client of clients) {
      const mine = handled(everyone).filter((text) => text.startsWith(`${client.transport}-`));
      assert.deepEqual(mine, Array.from({ length: members.length * perStep }, (_, i) => `${client.transport}-${i}`), `${client.transport}: its messages reached the handlers once, in order`);
    }
  });
});
