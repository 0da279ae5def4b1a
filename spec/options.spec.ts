import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { channels } from '../lib/index.js';
import { resolveOptions } from '../lib/options.js';

const req = {} as IncomingMessage;

describe('options', () => {
  it('fills every default', () => {
    const o = resolveOptions();
    assert.deepEqual(
      { ...o, isOriginAllowed: undefined },
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
      },
    );
    assert.equal(o.isOriginAllowed('https://anywhere.example', req), true);
  });

  it('rejects nonsense at once with the option named', () => {
    const cases: Array<[Parameters<typeof channels>[0], string]> = [
      [{ heartbeat: -1 }, 'heartbeat must be a finite number >= 0, got -1'],
      [{ maxPayload: 0 }, 'maxPayload must be a finite number > 0, got 0'],
      [{ maxBufferedBytes: Number.NaN }, 'maxBufferedBytes must be a finite number > 0, got NaN'],
      [{ sessionTimeout: Infinity }, 'sessionTimeout must be a finite number > 0, got Infinity'],
      [{ sessionBuffer: { messages: 0 } }, 'sessionBuffer.messages must be a finite number > 0, got 0'],
      [{ bufferPolicy: 'queue' as 'drop' }, `bufferPolicy must be 'close' or 'drop', got "queue"`],
    ];
    for (const [options, message] of cases) {
      assert.throws(() => channels(options), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_OPTION', message });
    }
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
});
