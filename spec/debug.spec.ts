// NODE_DEBUG=express-channel: what the debug log tells, and what it never does (session ids,
// payloads). Node reads NODE_DEBUG at startup, so the app runs in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const root = resolve(import.meta.dirname, '..');

interface Printed {
  session: string;
  sessionSecret: string;
  secret: string;
  slowClosed: string;
}

async function runApp(env: Record<string, string>): Promise<{ lines: string[]; stderr: string; printed: Printed }> {
  const { NODE_DEBUG: _ignored, ...rest } = process.env;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'spec/support/debug-app.ts'], { cwd: root, env: { ...rest, ...env }, timeout: 60_000 });
  const lines = stderr.split('\n').filter(Boolean).map((line) => line.replace(/^EXPRESS-CHANNEL \d+: /, ''));
  return { lines, stderr, printed: JSON.parse(stdout) as Printed };
}

describe('debug log (NODE_DEBUG=express-channel)', () => {
  it('tells refused handshakes and why, claims, closes with reasons, resumes, gaps and slow consumers', async () => {
    const { lines, printed } = await runApp({ NODE_DEBUG: 'express-channel' });
    assert.equal(printed.slowClosed, 'slow-consumer');
    assert.deepEqual(lines, [
      'refused a websocket channel: 403, Origin "https://elsewhere.example" is not allowed (allowedOrigins)',
      'refused a websocket handshake: 400, Sec-WebSocket-Version "8" (only 13 is spoken)',
      'refused a websocket channel: 400, not a valid WebSocket handshake',
      'claimed sse channel #1',
      'closed sse channel #1: server-close',
      'claimed websocket channel #2 (session)',
      'session channel #2 lost its connection; it waits for its client',
      'resumed session channel #2 over websocket, the client having messages up to 0',
      'session channel #2 resumes with a gap: messages 1 to 2 are no longer kept',
      'session channel #2 lost its connection; it waits for its client',
      'refused a session GET: unknown-session',
      'claimed websocket channel #3',
      'websocket channel #3 is a slow consumer (past maxBufferedBytes): bufferPolicy close',
      'closed websocket channel #3: slow-consumer',
      'closed websocket channel #2: shutdown',
    ]);
  });

  it('never writes a session id, a session secret or a payload', async () => {
    const { stderr, printed } = await runApp({ NODE_DEBUG: 'express-channel' });
    assert.ok(printed.session.length > 0 && printed.sessionSecret.length > 0);
    assert.ok(!stderr.includes(printed.session), 'no session id');
    assert.ok(!stderr.includes(printed.sessionSecret), 'no session secret');
    assert.ok(!stderr.includes(printed.secret), 'no payload');
  });

  it('writes nothing unless NODE_DEBUG names express-channel', async () => {
    assert.equal((await runApp({})).stderr, '');
    const other = await runApp({ NODE_DEBUG: 'net' });
    assert.ok(other.stderr.includes('NET '), 'the net log is on');
    assert.ok(!other.stderr.includes('EXPRESS-CHANNEL'), 'ours is not');
  });
});
