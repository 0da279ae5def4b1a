// The server of bench/scale.ts: one express-channel app, every channel in the group `all`,
// default options (heartbeats every 25 s, polls held 25 s) except the handshake pacing, which
// would only slow the opening of 19,000 channels down. Answers the runner over IPC.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { channels } from '../lib/index.js';

const live = channels({ handshakeRate: Infinity });
const all = live.group('all');
const app = express();
app.use(live);
app.get('/live', (req) => void all.add(req.channel!));
const server = app.listen(0, '127.0.0.1');
live.attach(server);
await once(server, 'listening');
const reply = (message: Record<string, unknown>): void => void process.send?.(message);
reply({ op: 'ready', port: (server.address() as AddressInfo).port });

process.on('message', (message: { op: string; id?: number }) => {
  const { id } = message;
  if (message.op === 'mem') {
    (globalThis as { gc?: () => void }).gc?.();
    const m = process.memoryUsage();
    reply({ id, rss: m.rss, heap: m.heapUsed, external: m.external, open: live.stats().open });
  } else if (message.op === 'cpu') {
    const c = process.cpuUsage();
    reply({ id, cpuUs: c.user + c.system, at: performance.now() });
  } else if (message.op === 'broadcast') {
    const sentAt = performance.timeOrigin + performance.now();
    const started = performance.now();
    const reached = all.broadcast(String(sentAt));
    const syncMs = performance.now() - started;
    // Corked writes and held polls' answers leave on nextTick: a nextTick queued now runs
    // after them, once every member's socket has been handed the bytes.
    process.nextTick(() => reply({ id, sentAt, reached, syncMs, writtenMs: performance.now() - started }));
  } else if (message.op === 'exit') {
    reply({ id });
    process.exit(0);
  }
});
