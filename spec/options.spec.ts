import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { channels } from '../lib/index.js';
import { resolveOptions } from '../lib/options.js';

const req = { headers: {} } as IncomingMessage;

describe('options', () => {
  it('fills every default', () => {
    const o = resolveOptions();
    assert.deepEqual(
      { ...o, isOriginAllowed: undefined, trusts: undefined },
      {
        heartbeat: 25_000,
        maxPayload: 1024 * 1024,
        maxBufferedBytes: 1024 * 1024,
        bufferPolicy: 'close',
        maxHeldMessages: 1024,
        isOriginAllowed: undefined,
        sessionTimeout: 30_000,
        pollTimeout: 25_000,
        sessionMessages: 1000,
        sessionBytes: 1024 * 1024,
        authorizeResume: undefined,
        shutdownRetry: 1000,
        adapter: undefined,
        maxChannels: Infinity,
        maxChannelsPerIp: Infinity,
        handshakeRate: 1500,
        flushInterval: 0,
        trusts: undefined,
      },
    );
    assert.equal(o.trusts('10.0.0.1', 0), false, 'no proxy is trusted by default');
    assert.equal(o.isOriginAllowed('https://anywhere.example', req), false);
    assert.equal(o.isOriginAllowed(undefined, req), true);
  });

  it('rejects nonsense at once with the option named', () => {
    const cases: Array<[Parameters<typeof channels>[0], string]> = [
      [{ heartbeat: -1 }, 'heartbeat must be a finite number >= 0, got -1'],
      [{ maxPayload: 0 }, 'maxPayload must be a finite number > 0, got 0'],
      [{ maxBufferedBytes: Number.NaN }, 'maxBufferedBytes must be a finite number > 0, got NaN'],
      [{ sessionTimeout: Infinity }, 'sessionTimeout must be a finite number > 0, got Infinity'],
      [{ sessionBuffer: { messages: 0 } }, 'sessionBuffer.messages must be a finite number > 0, got 0'],
      [{ bufferPolicy: 'queue' as 'drop' }, `bufferPolicy must be 'close' or 'drop', got "queue"`],
      [{ allowedOrigins: 'https://app.example' as '*' }, `allowedOrigins must be '*', a list of origins or a function, got "https://app.example"`],
      [{ flushInterval: -1 }, 'flushInterval must be a number of milliseconds from 0 to 1000, got -1'],
      [{ flushInterval: 1001 }, 'flushInterval must be a number of milliseconds from 0 to 1000, got 1001'],
      [{ flushInterval: Number.NaN }, 'flushInterval must be a number of milliseconds from 0 to 1000, got NaN'],
      [{ flushInterval: Infinity }, 'flushInterval must be a number of milliseconds from 0 to 1000, got Infinity'],
      [{ flushInterval: '10' as unknown as number }, 'flushInterval must be a number of milliseconds from 0 to 1000, got 10'],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => channels(options), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_OPTION', message });
    }
  });

  it('throws for an option name it does not know, naming the one meant (a misspelt option would be ignored)', () => {
    const cases: Array<[object, string]> = [
      [{ hearbeat: 10_000 }, 'channels() has no option "hearbeat"; did you mean "heartbeat"?'],
      [{ maxChannelPerIp: 3 }, 'channels() has no option "maxChannelPerIp"; did you mean "maxChannelsPerIp"?'],
      [{ SessionTimeout: 5 }, 'channels() has no option "SessionTimeout"; did you mean "sessionTimeout"?'],
      [{ flushIntervall: 5 }, 'channels() has no option "flushIntervall"; did you mean "flushInterval"?'],
      [{ sessionBuffer: { message: 10 } }, 'sessionBuffer has no option "message"; did you mean "messages"?'],
      [
        { redis: {} },
        'channels() has no option "redis"; its options are heartbeat, maxPayload, maxBufferedBytes, bufferPolicy, maxHeldMessages, allowedOrigins, sessionTimeout, pollTimeout, sessionBuffer, authorizeResume, maxChannels, maxChannelsPerIp, trustProxy, shutdownRetry, adapter, handshakeRate, flushInterval',
      ],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => channels(options as Parameters<typeof channels>[0]), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_OPTION', message });
    }
    assert.throws(() => channels(null as never), { code: 'ERR_CHANNEL_INVALID_OPTION', message: 'channels() takes an options object, got null' });
  });

  it('checks Origins against a list (case-insensitively) or a predicate, and lets Origin-less clients in', () => {
    const list = resolveOptions({ allowedOrigins: ['https://App.example'] }).isOriginAllowed;
    assert.equal(list('https://app.example', req), true);
    assert.equal(list('https://evil.example', req), false);
    assert.equal(list(undefined, req), true);
    const predicate = resolveOptions({ allowedOrigins: (origin) => origin.endsWith('.example') }).isOriginAllowed;
    assert.equal(predicate('https://a.example', req), true);
    assert.equal(predicate('https://a.test', req), false);
  });

  it('allows by default only an Origin whose host and port match the Host header, scheme and default ports aside', () => {
    const same = resolveOptions().isOriginAllowed;
    const to = (host: string | undefined) => ({ headers: host === undefined ? {} : { host } }) as IncomingMessage;
    const cases: Array<[string, string | undefined, boolean]> = [
      ['http://app.example', 'app.example', true],
      ['https://App.Example', 'app.example', true], // TLS ended at a proxy: scheme not compared
      ['https://app.example', 'app.example:443', true],
      ['http://app.example', 'app.example:80', true],
      ['http://127.0.0.1:3000', '127.0.0.1:3000', true],
      ['http://[::1]:3000', '[::1]:3000', true],
      ['http://127.0.0.1:3001', '127.0.0.1:3000', false],
      ['http://app.example:8080', 'app.example', false],
      ['http://evil.example', 'app.example', false],
      ['http://app.example.evil.example', 'app.example', false],
      ['null', 'app.example', false],
      ['file://', 'app.example', false],
      ['http://app.example', undefined, false],
      ['http://app.example', 'app.example@evil.example', false],
    ];
    for (const [origin, host, allowed] of cases) assert.equal(same(origin, to(host)), allowed, `${origin} to ${String(host)}`);
    assert.equal(resolveOptions({ allowedOrigins: '*' }).isOriginAllowed('http://evil.example', to('app.example')), true);
  });
});
