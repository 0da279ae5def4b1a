import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { corkForTick } from '../../lib/transports/cork.js';
import type { Channel } from '../../lib/index.js';
import { Inbox, startLiveServer } from '../support/live-server.js';

/** A stream that records how many chunks each underlying write carried. */
function batchRecorder(): { stream: Writable; batches: number[] } {
  const batches: number[] = [];
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      batches.push(1);
      callback();
    },
    writev(chunks, callback) {
      batches.push(chunks.length);
      callback();
    },
  });
  return { stream, batches };
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('corkForTick', () => {
  it('holds the writes of the current tick and lets them out as one writev on the next', async () => {
    const { stream, batches } = batchRecorder();
    corkForTick(stream);
    stream.write('a');
    corkForTick(stream);
    stream.write('b');
    stream.write('c');
    assert.equal(stream.writableCorked, 1, 'corked once however often it is called');
    assert.deepEqual(batches, []);
    await nextTick();
    assert.deepEqual(batches, [3]);
    assert.equal(stream.writableCorked, 0);
  });

  it('corks again in a later tick', async () => {
    const { stream, batches } = batchRecorder();
    corkForTick(stream);
    stream.write('a');
    await nextTick();
    corkForTick(stream);
    stream.write('b');
    stream.write('c');
    assert.equal(stream.writableCorked, 1);
    await nextTick();
    assert.deepEqual(batches, [1, 2]);
  });

  it('uncorks every stream corked in the tick', async () => {
    const one = batchRecorder();
    const two = batchRecorder();
    corkForTick(one.stream);
    corkForTick(two.stream);
    one.stream.write('x');
    two.stream.write('y');
    await nextTick();
    assert.deepEqual([one.batches, two.batches], [[1], [1]]);
  });
});

describe('a burst of broadcasts in one tick', () => {
  it('leaves each WebSocket member socket as one writev', async (t) => {
    const joined = new Inbox<Channel>();
    const s = await startLiveServer({ heartbeat: 0 }, (app, live) => {
      app.get('/join', (req) => {
        live.group('burst').add(req.channel!);
        joined.push(req.channel!);
      });
    });
    t.after(() => s.close());
    const ws = new WebSocket(s.wsUrl('/join'));
    t.after(() => ws.terminate());
    const messages = new Inbox<string>();
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    await once(ws, 'open');
    await joined.untilCount(1);
    const [socket] = s.sockets;
    const calls = { write: 0, writev: 0 };
    const target = socket as Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
    const { _write, _writev } = target;
    target._write = function (...args: unknown[]) {
      calls.write++;
      _write.apply(this, args);
    };
    target._writev = function (...args: unknown[]) {
      calls.writev++;
      _writev.apply(this, args);
    };
    t.after(() => {
      target._write = _write;
      target._writev = _writev;
    });

    for (let i = 0; i < 10; i++) s.live.group('burst').broadcast(`m${i}`);

    assert.deepEqual(await messages.untilCount(10), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    assert.deepEqual(calls, { write: 0, writev: 1 });
  });
});
