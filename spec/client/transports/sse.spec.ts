// The SSE transport against a tiny server that speaks docs/protocol.md by hand, so the
// parsing is checked byte for byte: events split across chunks, ids, binary, acks, the
// heartbeat watchdog, and the answers that end a session. Also the native-EventSource
// variant, with the `eventsource` package injected.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventSource } from 'eventsource';
import { connect, type EventSourceConstructor } from '../../../lib/client/node.js';
import { serve } from '../../support/harness.js';
import { nextEvent, until } from '../support.js';

const id = 'AAAAAAAAAAAAAAAAAAAAAA';
const hello = (fields: object = {}) => `event: ec-hello\ndata: ${JSON.stringify({ session: id, next: 1, received: 0, heartbeat: 0, ...fields })}\n\n`;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function handServer(t: TestContext, handler: Handler): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const served = await serve(t, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  return { url: `${served.url}/live`, requests };
}

const stream = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });

describe('SSE transport', () => {
  it('parses events split at any byte, numbers them by id, decodes ec-binary and skips comments', async (t) => {
    const events = hello() + ': heartbeat\n\n' + `id: ${id}.1\ndata: first\n\n` + `id: ${id}.2\nevent: ec-binary\ndata: AAEC\n\n` + `id: ${id}.3\ndata: two\ndata: lines\n\n`;
    const srv = await handServer(t, (_req, res) => {
      stream(res);
      // One byte a write: the parser must put events together across chunks.
      const bytes = Buffer.from(events);
      let i = 0;
      const next = (): void => {
        if (i < bytes.length) res.write(bytes.subarray(i, ++i), next);
      };
      next();
    });
    const conn = connect(srv.url, { transports: ['sse'] });
    t.after(() => conn.close());
    const got: string[] = [];
    conn.onmessage = (e) => got.push(`${e.seq} ${typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)].join(',')}`);
    await until(conn, 'message', () => got.length === 3);
    assert.deepEqual(got, ['1 first', '2 0,1,2', '3 two\nlines']);
    assert.equal(conn.sessionId, id);
    assert.match(srv.requests[0] ?? "", /^GET \/live\?ecs=new&eco=1$/);
  });

  it('resumes with ecs and eca after the stream ends, skipping what it already has', async (t) => {
    let n = 0;
    const srv = await handServer(t, (_req, res) => {
      stream(res);
      // The first stream ends after message 2; the second replays 2 (already delivered) and 3.
      if (n++ === 0) res.end(hello() + `id: ${id}.1\ndata: a\n\n` + `id: ${id}.2\ndata: b\n\n`);
      else res.write(hello({ next: 2 }) + `id: ${id}.2\ndata: b\n\n` + `id: ${id}.3\ndata: c\n\n`);
    });
    const conn = connect(srv.url, { transports: ['sse'], reconnect: { minDelay: 1, maxDelay: 5 } });
    t.after(() => conn.close());
    const got: string[] = [];
    conn.onmessage = (e) => got.push(String(e.data));
    await until(conn, 'message', () => got.length === 3);
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.equal(srv.requests[1], `GET /live?ecs=${id}&eca=2&eco=1`);
  });

  it('reports a gap the hello announces before the messages after it', async (t) => {
    const srv = await handServer(t, (_req, res) => {
      stream(res);
      res.write(hello({ next: 8, gap: [1, 7] }) + `id: ${id}.8\ndata: h\n\n`);
    });
    const conn = connect(srv.url, { transports: ['sse'] });
    t.after(() => conn.close());
    const log: string[] = [];
    conn.ongap = (e) => log.push(`gap ${e.first}-${e.last}`);
    conn.onmessage = (e) => log.push(`${e.seq} ${String(e.data)}`);
    await until(conn, 'message', () => log.length === 2);
    assert.deepEqual(log, ['gap 1-7', '8 h']);
  });

  it('gives a silent stream up after 2.5 heartbeats and reconnects', async (t) => {
    let n = 0;
    const srv = await handServer(t, (_req, res) => {
      stream(res);
      res.write(hello({ heartbeat: 20 })); // then nothing: a half-open connection
      n++;
    });
    const conn = connect(srv.url, { transports: ['sse'], reconnect: { minDelay: 1, maxDelay: 5 } });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const error = await nextEvent(conn, 'error');
    assert.deepEqual([error.error.code, error.error.message], ['lost', 'SSE: no data for 50 ms']);
    const reopened = await nextEvent(conn, 'open');
    assert.equal(reopened.resumed, true);
    assert.ok(n >= 2);
  });

  it('acknowledges after 512 messages by POSTing eca with an empty batch', async (t) => {
    let posted!: (post: string) => void;
    const post = new Promise<string>((resolve) => (posted = resolve));
    const srv = await handServer(t, (req, res) => {
      if (req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c));
        req.on('end', () => {
          posted(`${req.url} ${body}`);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":0}');
        });
        return;
      }
      stream(res);
      res.write(hello() + Array.from({ length: 514 }, (_, i) => `id: ${id}.${i + 1}\ndata: ${i + 1}\n\n`).join(''));
    });
    const conn = connect(srv.url, { transports: ['sse'] });
    t.after(() => conn.close());
    let got = 0;
    conn.onmessage = () => got++;
    await until(conn, 'message', () => got === 514);
    // 512 messages trigger an acknowledgement at once (no waiting for the 1 s timer).
    assert.equal(await post, `/live?ecs=${id}&ecm=1&eca=512 []`);
  });

  it('closes with sessionGone on a 404 unknown-session JSON answer to a resume', async (t) => {
    let n = 0;
    const srv = await handServer(t, (_req, res) => {
      if (n++ === 0) return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(hello());
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"unknown-session","message":"gone"}');
    });
    const conn = connect(srv.url, { transports: ['sse'], reconnect: { minDelay: 1, maxDelay: 5 } });
    const closed = await nextEvent(conn, 'close');
    assert.deepEqual([closed.code, closed.reason, closed.sessionGone], [4404, 'unknown-session', true]);
  });

  it('treats a non-event-stream answer as a refusal and tries the next transport', async (t) => {
    const srv = await handServer(t, (req, res) => {
      if (req.url?.includes('ect=poll')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ session: id, next: 1, received: 0, messages: ['p'] }));
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>login</p>');
    });
    const conn = connect(srv.url, { transports: ['sse', 'poll'] });
    t.after(() => conn.close());
    const error = await nextEvent(conn, 'error');
    assert.deepEqual([error.transport, error.error.code, error.error.message], ['sse', 'refused', 'SSE request answered text/html, not text/event-stream']);
    assert.equal((await nextEvent(conn, 'message')).data, 'p');
    assert.equal(conn.transport, 'poll');
  });

  it('reads the same stream through an injected EventSource with useNativeEventSource', async (t) => {
    const srv = await handServer(t, (_req, res) => {
      stream(res);
      res.write(hello() + `id: ${id}.1\ndata: native\n\n` + `id: ${id}.2\nevent: ec-binary\ndata: /w==\n\n`);
    });
    const conn = connect(srv.url, { transports: ['sse'], useNativeEventSource: true, EventSource: EventSource as unknown as EventSourceConstructor });
    t.after(() => conn.close());
    const got: unknown[] = [];
    conn.onmessage = (e) => got.push(typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)]);
    await until(conn, 'message', () => got.length === 2);
    assert.deepEqual(got, ['native', [255]]);
  });

  for (const reader of ['fetch', 'native'] as const) {
    const options = reader === 'native' ? { useNativeEventSource: true, EventSource: EventSource as unknown as EventSourceConstructor } : {};

    it(`releases what the server acknowledged in ec-ack, and closes with sessionGone on ec-close (${reader} reader)`, async (t) => {
      let stream!: ServerResponse;
      const srv = await handServer(t, (req, res) => {
        if (req.method === 'POST') return void req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":0}'));
        stream = res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(hello());
      });
      const conn = connect(srv.url, { transports: ['sse'], ...options });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      conn.send('a');
      assert.equal(conn.queued, 1);
      // A malformed ec-ack is skipped; the message after the acks shows they were read.
      stream.write('event: ec-ack\ndata: {"received":"x"}\n\n' + 'event: ec-ack\ndata: {"received":1}\n\n' + `id: ${id}.1\ndata: after\n\n`);
      assert.equal((await nextEvent(conn, 'message')).data, 'after');
      assert.equal(conn.queued, 0);
      stream.write('event: ec-close\ndata: {"reason":"server-close"}\n\n');
      const closed = await nextEvent(conn, 'close');
      assert.deepEqual([closed.code, closed.reason, closed.sessionGone], [1000, 'server-close', true]);
    });
  }

  const faults: { name: string; reader: 'fetch' | 'native'; events: string; message: string }[] = [
    { name: 'a second ec-hello', reader: 'fetch', events: hello() + hello(), message: 'SSE: malformed or repeated ec-hello' },
    { name: 'a malformed ec-hello', reader: 'fetch', events: 'event: ec-hello\ndata: {"session":""}\n\n', message: 'SSE: malformed or repeated ec-hello' },
    { name: 'an event before ec-hello', reader: 'fetch', events: `id: ${id}.1\ndata: early\n\n`, message: 'SSE: an event came before ec-hello' },
    { name: 'a message whose id is not the next', reader: 'fetch', events: hello() + `id: ${id}.2\ndata: skipped one\n\n`, message: `SSE: message ${id}.2 where 1 was expected` },
    { name: 'a second ec-hello', reader: 'native', events: hello() + hello(), message: 'SSE: malformed or repeated ec-hello' },
    { name: 'a message without an id', reader: 'native', events: hello() + 'data: no id\n\n', message: 'SSE: a message before ec-hello or without a sequence number' },
  ];
  for (const fault of faults) {
    it(`ends the stream with a protocol error on ${fault.name} (${fault.reader} reader)`, async (t) => {
      const srv = await handServer(t, (_req, res) => {
        stream(res);
        res.write(fault.events);
      });
      const native = fault.reader === 'native' ? { useNativeEventSource: true, EventSource: EventSource as unknown as EventSourceConstructor } : {};
      const conn = connect(srv.url, { transports: ['sse'], reconnect: { minDelay: 1000, maxDelay: 1000 }, ...native });
      t.after(() => conn.close());
      const error = await nextEvent(conn, 'error');
      assert.deepEqual([error.transport, error.error.code, error.error.message], ['sse', 'protocol', fault.message]);
    });
  }
});
