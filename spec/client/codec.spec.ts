import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ackFrame, base64ToBuffer, bytesToBase64, decodeFrame, encodeFrame, fromWire, parseHello, seqFromEventId, toOutgoing, toWire,
} from '../../lib/client/codec.js';

const bytes = (...values: number[]) => new Uint8Array(values);

describe('client codec', () => {
  it('decodes the server frames of docs/protocol.md', () => {
    assert.deepEqual(decodeFrame('mhello'), { kind: 'message', data: 'hello' });
    assert.deepEqual(decodeFrame('m'), { kind: 'message', data: '' });
    assert.deepEqual(decodeFrame('c{"type":"ack","received":7}'), { kind: 'ack', received: 7 });
    assert.deepEqual(decodeFrame('c{"type":"hello","session":"s","next":3,"received":0,"heartbeat":25000,"sessionTimeout":30000}'), {
      kind: 'hello',
      hello: { session: 's', next: 3, received: 0, heartbeat: 25000, sessionTimeout: 30000 },
    });
    assert.deepEqual(decodeFrame('c{"type":"future-thing"}'), { kind: 'ignored' });
    const frame = decodeFrame(bytes(1, 2, 3).buffer);
    assert.equal(frame?.kind, 'message');
    assert.deepEqual(frame?.kind === 'message' && new Uint8Array(frame.data as ArrayBuffer), bytes(1, 2, 3));
  });

  it('rejects frames that are not in the protocol', () => {
    for (const bad of ['hello', 'c{', 'c[]', 'c{"type":"ack"}', 'c{"type":"hello","session":"s","next":0,"received":0}', 42]) {
      assert.equal(decodeFrame(bad), undefined, String(bad));
    }
  });

  it('keeps a well-formed gap and drops a malformed one', () => {
    assert.deepEqual(parseHello({ session: 's', next: 9, received: 1, gap: [3, 8] })?.gap, [3, 8]);
    assert.equal(parseHello({ session: 's', next: 9, received: 1, gap: [8, 3] })?.gap, undefined);
  });

  it('encodes client frames and acks', () => {
    assert.equal(encodeFrame('hi'), 'mhi');
    assert.deepEqual(encodeFrame(bytes(9)), bytes(9));
    assert.equal(ackFrame(12), 'c{"type":"ack","seq":12}');
  });

  it('round-trips binary through base64 JSON messages, also past 32 KiB', () => {
    const big = new Uint8Array(100_000).map((_, i) => i % 256);
    assert.equal(bytesToBase64(big), Buffer.from(big).toString('base64'));
    const wire = toWire(big);
    assert.deepEqual(new Uint8Array(fromWire(wire) as ArrayBuffer), big);
    assert.equal(toWire('text'), 'text');
    assert.equal(fromWire({ nope: 1 }), undefined);
    assert.deepEqual(new Uint8Array(base64ToBuffer('AAEC')), bytes(0, 1, 2));
  });

  it('copies what send() is given, from any view', () => {
    const source = bytes(1, 2, 3, 4);
    const copy = toOutgoing(source.subarray(1, 3));
    source[1] = 99;
    assert.deepEqual(copy, bytes(2, 3));
    assert.deepEqual(toOutgoing(new DataView(source.buffer, 2, 2)), bytes(3, 4));
    assert.deepEqual(toOutgoing(bytes(5).buffer), bytes(5));
    assert.throws(() => toOutgoing(42), { name: 'TypeError', code: 'invalid-data', message: 'send() takes a string, an ArrayBuffer or a Uint8Array, got number: convert it with String(value)' });
    assert.throws(() => toOutgoing({ type: 'chat' }), { name: 'TypeError', code: 'invalid-data', message: 'send() takes a string, an ArrayBuffer or a Uint8Array, got object: send JSON.stringify(value)' });
  });

  it('reads the sequence number from an SSE id', () => {
    assert.equal(seqFromEventId('abcdefghijklmnopqrstuv.41'), 41);
    assert.equal(seqFromEventId('abc.0'), undefined);
    assert.equal(seqFromEventId('abc.x'), undefined);
    assert.equal(seqFromEventId(undefined), undefined);
  });
});
