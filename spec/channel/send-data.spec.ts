import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeSendData, type SendData } from '../../lib/channel/send-data.js';
import { payloadBytes, toPayload } from '../../lib/transports/payload.js';

function assertInvalidData(data: unknown, message: string): void {
  assert.throws(
    () => normalizeSendData(data as SendData),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.equal((error as TypeError & { code?: string }).code, 'ERR_CHANNEL_INVALID_DATA');
      assert.equal(error.message, message);
      return true;
    },
  );
}

const wrongTypeMessage = (got: string): string =>
  `send() takes a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }, got ${got}: ` +
  (got.startsWith('an ') ? 'send JSON.stringify(value), and JSON.parse the text on the client' : 'convert it with String(value) or JSON.stringify(value)');

describe('normalizeSendData', () => {
  it('sends a string as text with no head', () => {
    assert.deepEqual(normalizeSendData('hi'), { head: {}, payload: 'hi' });
  });

  it('sends a Buffer as the same Buffer (binary stays binary)', () => {
    const buffer = Buffer.from([1, 2, 3]);
    const { head, payload } = normalizeSendData(buffer);
    assert.deepEqual(head, {});
    assert.equal(payload, buffer);
  });

  it('wraps a Uint8Array in a Buffer over the same memory, without copying', () => {
    const backing = new Uint8Array([9, 8, 7, 6, 5]);
    const view = backing.subarray(1, 4);
    const { payload } = normalizeSendData(view);
    assert.ok(Buffer.isBuffer(payload));
    assert.deepEqual([...payload], [8, 7, 6]);
    backing[2] = 0;
    assert.equal(payload[1], 0, 'the Buffer shares the Uint8Array memory');
  });

  it('splits a response map into head (status, headers) and payload (body)', () => {
    const headers = { 'content-type': 'application/json', 'x-count': 2 };
    assert.deepEqual(normalizeSendData({ status: 201, headers, body: '{}' }), { head: { status: 201, headers }, payload: '{}' });
  });

  it('accepts a response map without a body (a send with no payload)', () => {
    assert.deepEqual(normalizeSendData({ status: 204 }), { head: { status: 204, headers: undefined }, payload: undefined });
    assert.deepEqual(normalizeSendData({}), { head: { status: undefined, headers: undefined }, payload: undefined });
  });

  it('accepts binary bodies in a response map', () => {
    const { payload } = normalizeSendData({ body: new Uint8Array([1, 2]) });
    assert.ok(Buffer.isBuffer(payload));
    assert.deepEqual([...payload], [1, 2]);
  });

  it('throws ERR_CHANNEL_INVALID_DATA for a number, a boolean, null or undefined', () => {
    assertInvalidData(123, wrongTypeMessage('number'));
    assertInvalidData(true, wrongTypeMessage('boolean'));
    assertInvalidData(null, wrongTypeMessage('null'));
    assertInvalidData(undefined, wrongTypeMessage('undefined'));
  });

  it('throws for a response map whose body is neither text nor bytes', () => {
    assertInvalidData({ body: 5 }, wrongTypeMessage('number'));
    assertInvalidData({ body: { nested: true } }, wrongTypeMessage('an object'));
    assertInvalidData({ body: null }, wrongTypeMessage('null'));
  });

  it('throws for an object that is not a response map, telling to JSON.stringify it: taken as a map it would send nothing', () => {
    assertInvalidData({ type: 'chat', text: 'hi' }, wrongTypeMessage('an object'));
    assertInvalidData({ status: 200, body: 'x', type: 'chat' }, wrongTypeMessage('an object'));
    assertInvalidData(['a', 'b'], wrongTypeMessage('an array'));
    assertInvalidData(new Date(0), wrongTypeMessage('an object'));
    assertInvalidData(new Map([['body', 'x']]), wrongTypeMessage('an object'));
    assert.deepEqual(normalizeSendData(Object.assign(Object.create(null) as object, { body: 'x' }) as SendData), { head: { status: undefined, headers: undefined }, payload: 'x' });
  });

  it('throws for a status that is not an integer from 100 to 999', () => {
    for (const status of [99, 1000, 200.5, Number.NaN, '200']) {
      assertInvalidData({ status, body: 'x' }, `status must be an integer from 100 to 999, got ${String(status)}`);
    }
  });
});

describe('toPayload', () => {
  it('leaves strings and Buffers as they are', () => {
    const buffer = Buffer.from('x');
    assert.equal(toPayload('x'), 'x');
    assert.equal(toPayload(buffer), buffer);
  });
});

describe('payloadBytes', () => {
  it('counts UTF-8 bytes of text, not UTF-16 units', () => {
    assert.equal(payloadBytes('héllo'), 6);
    assert.equal(payloadBytes('😀'), 4);
  });

  it('counts bytes of a Buffer and nothing for no payload', () => {
    assert.equal(payloadBytes(Buffer.alloc(10)), 10);
    assert.equal(payloadBytes(undefined), 0);
  });
});
