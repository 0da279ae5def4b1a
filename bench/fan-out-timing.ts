// What the fan-out histogram of express-channel/metrics costs a broadcast:
//   node --import tsx bench/fan-out-timing.ts
// 1. The recording alone: two process.hrtime.bigint() reads and FanOutTimes.record, in a loop.
// 2. Broadcasts to N SSE members on loopback (raw sockets that read and discard), in
//    alternating phases with the timing on and off, CPU time of the process charged to each
//    phase. Interleaving keeps a shared machine's drift out of the difference.
// Environment: BENCH_MEMBERS=1,100,1000 (default), BENCH_PHASES=20, BENCH_PHASE_BROADCASTS=2000.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import { hubOf } from '../lib/hub.js';
import { FanOutTimes } from '../lib/groups/fan-out-times.js';
import { channels } from '../lib/index.js';

const memberCounts = (process.env.BENCH_MEMBERS ?? '1,100,1000').split(',').map(Number);
const phases = Number(process.env.BENCH_PHASES ?? 20);
const perPhase = Number(process.env.BENCH_PHASE_BROADCASTS ?? 2000);

function recordingAlone(): number {
  const times = new FanOutTimes();
  const n = 2_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    times.record(process.hrtime.bigint() - t0);
  }
  return Number(process.hrtime.bigint() - started) / n;
}

async function broadcastCost(members: number): Promise<{ on: number; off: number }> {
  const live = channels({ heartbeat: 0 });
  const app = express();
  app.use(live);
  const group = live.group('bench');
  app.get('/sse', (req) => group.add(req.channel!));
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const sockets = [];
  for (let i = 0; i < members; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.resume(); // read and discard
    socket.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    sockets.push(socket);
  }
  while (group.size < members) await new Promise((resolve) => setImmediate(resolve));
  const groups = hubOf(live)!.groups;
  const cpu = { on: 0, off: 0 };
  for (let phase = 0; phase < phases * 2; phase++) {
    const side = phase % 2 === 0 ? 'on' : 'off';
    groups.fanOutTimes = side === 'on' ? new FanOutTimes() : undefined;
    const before = process.cpuUsage();
    for (let i = 0; i < perPhase; i++) {
      group.broadcast('0123456789abcdef0123456789abcdef');
      // Let the corked writes go out every 20 broadcasts, as a burst of a real app would.
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(before);
    cpu[side] += used.user + used.system;
  }
  for (const socket of sockets) socket.destroy();
  await live.close();
  server.close();
  const per = (us: number): number => (us * 1000) / (phases * perPhase);
  return { on: per(cpu.on), off: per(cpu.off) };
}

console.log(`recording alone: ${recordingAlone().toFixed(0)} ns a broadcast`);
for (const members of memberCounts) {
  const { on, off } = await broadcastCost(members);
  console.log(`${members} SSE members: ${(off / 1000).toFixed(1)} µs CPU a broadcast without timing, ${(on / 1000).toFixed(1)} µs with (${(((on - off) / off) * 100).toFixed(1)} %)`);
}
