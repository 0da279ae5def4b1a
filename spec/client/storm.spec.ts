// A reconnect storm (issue 12, item 5): 1,000 session clients whose sockets the server drops
// at once, with no goodbye, must come back spread out — never more than 200 handshakes in any
// 100 ms — and all resume their sessions within 5 s. The clients' first retry (a random delay
// in [0, 250) ms) spreads them a little; the server's handshakeRate (1,500/s by default: 150
// in any 100 ms) spreads what still comes bunched. A handshake is counted when the server
// starts it: when the upgrade reaches the app's first middleware. The clients run in a
// process of their own (fixtures/storm-clients.ts), so they reach the server as fast as they
// really would.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { withTimeout } from '../support/harness.js';
import { startLiveServer } from '../support/live-server.js';
import { busiestWindow } from '../support/windows.js';

const clients = 1000;
const windowMs = 100;

interface Report {
  op: 'opened' | 'resumed';
  sessions: string[];
  back?: number[];
}

function next(child: ChildProcess, op: Report['op'], ms: number): Promise<Report> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onMessage = (message: Report): void => {
        if (message.op !== op) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`the client process exited (${String(code)}) before '${op}'`)));
    }),
    ms,
    `the clients to say '${op}'`,
  );
}

describe('a reconnect storm', () => {
  it(`spreads ${clients} clients cut at once to at most 200 handshakes in any ${windowMs} ms, all resumed within 5 s`, async (t) => {
    const handshakes: number[] = [];
    const countHandshakes: RequestHandler = (req, _res, next) => {
      if (req.headers.upgrade !== undefined) handshakes.push(performance.now());
      next();
    };
    const server = await startLiveServer({ heartbeat: 0 }, (app) => app.get('/live', (req) => req.channel!.onReceive(() => undefined)), countHandshakes);
    const url = server.url('/live');
    const fixture = fileURLToPath(new URL('fixtures/storm-clients.ts', import.meta.url));
    const child = fork(fixture, { execArgv: ['--import', 'tsx'], env: { ...process.env, STORM_URL: url, STORM_CLIENTS: String(clients) } });
    t.after(async () => {
      if (child.connected) child.send({ op: 'stop' });
      if (child.exitCode === null) await withTimeout(once(child, 'exit'), 10_000, 'the client process to end').catch(() => child.kill());
      await server.close();
    });
    const opened = await next(child, 'opened', 60_000);
    assert.equal(new Set(opened.sessions).size, clients);

    handshakes.length = 0;
    const resumed = next(child, 'resumed', 30_000);
    for (const socket of server.sockets) socket.destroy();
    const report = await resumed;
    const back = [...(report.back as number[])].sort((a, b) => a - b);
    const busiest = busiestWindow(handshakes, windowMs);
    if (process.env['STORM_HISTOGRAM'] === '1') {
      const first = Math.min(...handshakes);
      const bins = new Array<number>(30).fill(0);
      for (const time of handshakes) bins[Math.min(29, Math.floor((time - first) / 50))]! += 1;
      t.diagnostic(`handshakes per 50 ms from the first: ${bins.join(' ')}`);
    }
    const at = (q: number) => Math.round(back[Math.min(back.length - 1, Math.floor(q * back.length))] as number);
    t.diagnostic(`${handshakes.length} handshakes after the cut; busiest ${windowMs} ms: ${busiest}; back after median ${at(0.5)} ms, p90 ${at(0.9)} ms, last ${at(1)} ms`);
    assert.ok(busiest <= 200, `${busiest} handshakes in the busiest ${windowMs} ms`);
    assert.ok(at(1) < 5000, `the last client came back after ${at(1)} ms`);
    // The same sessions, resumed, not new ones.
    assert.deepEqual(report.sessions, opened.sessions);
  });
});
