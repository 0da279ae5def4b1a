// Every tab's copy of the shared outbox (lib/client/shared/replica.ts): numbered as the
// leader's outbox, so the tab that takes over resumes with the same numbering; and the shared
// entry where there is no Web Lock (Node): a connection of its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Outbox } from '../../../lib/client/outbox.js';
import { Replica } from '../../../lib/client/shared/replica.js';
import { connect } from '../../../lib/client/shared/index.js';
import { nextEvent, quick, startServer } from '../support.js';
import type { Connection } from '../../../lib/client/index.js';

const send = (tab: string, n: number, seq: number) => ({ tab, n, seq, data: `${tab}${n}` });

describe('the replica of the shared outbox', () => {
  it('expects each tab\'s sends one after the other: an earlier n is a resend, a later one comes again in order', () => {
    const replica = new Replica();
    assert.equal(replica.expects('a', 1), true);
    assert.equal(replica.expects('a', 2), false);
    replica.queue(send('a', 1, 1));
    assert.deepEqual([replica.expects('a', 1), replica.expects('a', 2), replica.expects('b', 1)], [false, true, true]);
  });

  it('keeps the leader\'s numbering through releases and drops, and hands a new leader an outbox numbered the same', () => {
    const replica = new Replica();
    for (const [i, tab] of ['a', 'b', 'a', 'b'].entries()) replica.queue(send(tab, Math.floor(i / 2) + 1, i + 1));
    replica.queue(send('a', 1, 1)); // told twice (a welcome's snapshot, then the message): kept once
    replica.apply({ t: 'released', received: 1 });
    replica.apply({ t: 'dropped', seq: 3 });
    assert.deepEqual(replica.queued.map((s) => [s.seq, s.data]), [[2, 'b1'], [3, 'b2']]);
    assert.equal(replica.nextSeq, 4);
    assert.equal(replica.countOf('b'), 2);
    const outbox = replica.toOutbox((first) => new Outbox(first));
    assert.deepEqual([outbox.first, outbox.at(2), outbox.at(3), outbox.last], [2, 'b1', 'b2', 3]);
    replica.apply({ t: 'released', received: 3 });
    assert.equal(replica.toOutbox((first) => new Outbox(first)).first, 4, 'empty: it starts at the next number');
  });

  it('takes a welcome\'s state, keeping the higher n it already knew of a tab', () => {
    const replica = new Replica();
    replica.queue(send('a', 3, 7));
    replica.reset(9, [send('b', 1, 8)], [['a', 2], ['b', 1]]);
    assert.deepEqual([replica.nextSeq, replica.sentBy.get('a'), replica.sentBy.get('b'), replica.queued.length], [9, 3, 1, 1]);
  });
});

describe('express-channel/client/shared without Web Locks (Node)', () => {
  it('is a connection of its own: it opens, receives and sends', async (t) => {
    const server = await startServer(t, { heartbeat: 0 });
    const conn = connect(server.url, { ...quick, transports: ['sse'] });
    t.after(() => conn.close());
    const opened = await nextEvent(conn as unknown as Connection, 'open');
    assert.deepEqual([opened.transport, opened.resumed, conn.isLeader], ['sse', false, true]);
    const ch = await server.channel();
    const message = nextEvent(conn as unknown as Connection, 'message');
    ch.send('hi');
    assert.equal((await message).data, 'hi');
    conn.send('from node');
    assert.deepEqual(await server.receivedCount(ch, 1), ['from node']);
    assert.equal(conn.sessionId, ch.id);
  });

  it('throws on a misspelt option at once, as the core client does', () => {
    assert.throws(() => connect('http://127.0.0.1:1/live', { openTimout: 5 } as never), /connect\(\) has no option "openTimout"; did you mean "openTimeout"\?/);
  });
});
