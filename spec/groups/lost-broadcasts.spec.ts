// A broadcast lost on its way between processes (lib/groups/group.ts deliverLost) is a gap
// for the group's session members, at its place: a client away when it happened replays up to
// it, comes back from there, and is told of exactly that gap before what follows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../lib/client/node.js';
import { deliverLost } from '../../lib/groups/group.js';
import { nextEvent, quick, startServer, until } from '../client/support.js';

describe('lost broadcasts', () => {
  for (const transport of ['websocket', 'sse', 'poll'] as const) {
    it(`replays up to a lost broadcast on ${transport}, then tells the gap at its place, then the rest`, async (t) => {
      const server = await startServer(t, { heartbeat: 0 });
      const group = server.live.group('room');
      const conn = connect(server.url, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      const seen: string[] = [];
      conn.addEventListener('message', (event) => seen.push(`${event.seq}:${String(event.data)}`));
      conn.addEventListener('gap', (event) => seen.push(`gap ${event.first}-${event.last}`));
      await nextEvent(conn, 'open');
      group.add(await server.channel());
      group.broadcast('first');
      await until(conn, 'message', () => seen.length === 1, 5000);
      // Away: the server keeps what comes meanwhile, a lost one among it.
      const lost = nextEvent(conn, 'reconnecting');
      server.cut();
      await lost;
      group.broadcast('before');
      deliverLost(group, 2);
      group.broadcast('after');
      await until(conn, 'message', () => seen.includes('5:after'), 10_000);
      assert.deepEqual(seen, ['1:first', '2:before', 'gap 3-4', '5:after']);
    });
  }
});
