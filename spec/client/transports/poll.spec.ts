// The polling transport against a hand-written server (docs/protocol.md, "Polling"): the
// exact requests it makes, in order, through a superseded poll, a failed one, a refused and
// an accepted resume, and a closing answer.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from '../../../lib/client/node.js';
import { serve } from '../../support/harness.js';
import { nextEvent } from '../support.js';

const id = 'BBBBBBBBBBBBBBBBBBBBBB';
const json = (res: ServerResponse, body: unknown, status = 200) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A server answering its n-th request with `answers[n]`; every request is logged as `METHOD url body`. */
async function scriptedServer(t: TestContext, answers: Answer[]): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const served = await serve(t, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      const answer = answers[requests.length];
      requests.push(`${req.method} ${req.url}${body === '' ? '' : ' ' + body}`);
      if (answer === undefined) return; // held: the test is over
      answer(req, res);
    });
  });
  return { url: `${served.url}/live`, requests };
}

describe('poll transport', () => {
  it('polls on after a superseded poll, resumes with an empty POST, and ends on a closing answer', async (t) => {
    const srv = await scriptedServer(t, [
      (_req, res) => json(res, { session: id, next: 1, received: 0, messages: ['a'] }),
      (_req, res) => res.writeHead(204).end(), // superseded: poll again
      (_req, res) => json(res, { error: 'bad-request', message: 'no' }, 500),
      (_req, res) => json(res, {}), // a resume answered without "received"
      (_req, res) => json(res, { received: 0 }),
      (_req, res) => json(res, { session: id, next: 2, received: 0, messages: ['b', { base64: 'AQI=' }], closed: 'server-close' }),
    ]);
    const conn = connect(srv.url, { transports: ['poll'], reconnect: { minDelay: 1, maxDelay: 5 } });
    t.after(() => conn.close());
    const log: string[] = [];
    conn.onopen = (e) => log.push(`open ${e.resumed}`);
    conn.onmessage = (e) => log.push(`${e.seq} ${typeof e.data === 'string' ? e.data : [...new Uint8Array(e.data)].join(',')}`);
    conn.onerror = (e) => log.push(`error ${e.error.code} ${e.error.message}`);
    const closed = await nextEvent(conn, 'close');
    assert.deepEqual([closed.code, closed.reason, closed.sessionGone], [1000, 'server-close', true]);
    assert.deepEqual(log, [
      'open false',
      '1 a',
      'error bad-request poll answered 500: no',
      'error protocol poll: the resuming POST answered without "received"',
      'open true',
      '2 b',
      '3 1,2',
      'error session-closed the server closed the session (server-close)',
    ]);
    assert.deepEqual(srv.requests, [
      'GET /live?ecs=new&ect=poll',
      `GET /live?ecs=${id}&eca=1&ect=poll`,
      `GET /live?ecs=${id}&eca=1&ect=poll`,
      `POST /live?ecs=${id}&eca=1 []`,
      `POST /live?ecs=${id}&eca=1 []`,
      `GET /live?ecs=${id}&eca=1&ect=poll`,
    ]);
  });

  it('takes a 204 to its first poll for a malformed answer', async (t) => {
    const srv = await scriptedServer(t, [(_req, res) => res.writeHead(204).end()]);
    const conn = connect(srv.url, { transports: ['poll'], reconnect: { minDelay: 1000, maxDelay: 1000 } });
    t.after(() => conn.close());
    const error = await nextEvent(conn, 'error');
    assert.deepEqual([error.transport, error.error.code, error.error.message], ['poll', 'protocol', 'poll: malformed answer']);
  });
});
