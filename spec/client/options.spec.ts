// connect()'s options: defaults, and misuse that throws at once with a stable code instead of
// being ignored (a misspelt option would otherwise leave its default in place without a word).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, type ConnectOptions } from '../../lib/client/node.js';
import { resolveOptions } from '../../lib/client/options.js';
import { quick, startServer } from './support.js';

const invalidOption = (message: string) => ({ name: 'TypeError', code: 'invalid-option', message });

describe('client options', () => {
  it('fills the defaults', () => {
    const o = resolveOptions();
    assert.deepEqual([o.transports, o.openTimeout, o.reconnect, o.maxQueued, o.credentials, o.useNativeEventSource], [
      ['websocket', 'sse', 'poll'],
      5000,
      { minDelay: 250, maxDelay: 10_000, maxAttempts: Infinity },
      1000,
      'same-origin',
      false,
    ]);
  });

  it('throws for an option name it does not know, naming the one that starts like it', () => {
    const cases: Array<[object, string]> = [
      [{ openTimout: 100 }, 'connect() has no option "openTimout"; did you mean "openTimeout"?'],
      [{ transport: ['sse'] }, 'connect() has no option "transport"; did you mean "transports"?'],
      [{ websocket: class {} }, 'connect() has no option "websocket"; did you mean "WebSocket"?'],
      [{ retries: 3 }, 'connect() has no option "retries"'],
      [{ reconnect: { maxAttempt: 3 } }, 'reconnect has no option "maxAttempt"; did you mean "maxAttempts"?'],
    ];
    for (const [options, message] of cases) assert.throws(() => resolveOptions(options as ConnectOptions), invalidOption(message));
  });

  it('throws for values that make no sense, with the same code', () => {
    assert.throws(() => resolveOptions({ openTimeout: -1 }), invalidOption('openTimeout must be a positive number, got -1'));
    assert.throws(() => resolveOptions({ transports: [] }), invalidOption(`transports must list some of 'websocket', 'sse', 'poll', got []`));
  });

  it('throws from connect() itself, before any request', () => {
    assert.throws(() => connect('http://127.0.0.1:9/live', { openTimout: 100 } as ConnectOptions), { code: 'invalid-option' });
  });
});

describe('Connection.send', () => {
  it('throws a TypeError with code invalid-data for an object, telling to JSON.stringify it, and sends nothing', async (t) => {
    const srv = await startServer(t);
    const conn = connect(srv.url, quick);
    t.after(() => conn.close());
    assert.throws(() => conn.send({ type: 'chat', text: 'hi' } as never), {
      name: 'TypeError',
      code: 'invalid-data',
      message: 'send() takes a string, an ArrayBuffer or a Uint8Array, got object: send JSON.stringify(value)',
    });
    assert.equal(conn.queued, 0);
    conn.send(JSON.stringify({ type: 'chat', text: 'hi' }));
    const ch = await srv.channel();
    assert.deepEqual(await srv.receivedCount(ch, 1), ['{"type":"chat","text":"hi"}']);
  });
});
