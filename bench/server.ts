// The server process of one benchmark scenario: `node --expose-gc --import tsx bench/server.ts KIND`,
// forked by bench/run.ts with an IPC channel and pinned to its own core. It listens on
// 127.0.0.1, port 0, and answers the runner's requests (see bench/protocol.ts).
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createBenchServer } from './servers.js';
import { clusterRows, nowUs, payloadOf, pollRows, rows, tickRows, type ServerKind, type ServerRequest } from './protocol.js';

const kind = process.argv[2] as ServerKind;
if (![...rows, ...clusterRows, ...tickRows, ...pollRows].some((r) => r.kind === kind)) throw new Error(`unknown server kind ${String(kind)}`);
const payloadSize = Number(process.env.BENCH_PAYLOAD ?? 64);

const bench = createBenchServer(kind);
bench.server.listen(0, '127.0.0.1');
await once(bench.server, 'listening');
// A server joined to others through Redis is ready once it is subscribed.
await bench.ready;

let sent = 0;
let seq = 1_000_000;
let inFlight = 0;
let running = false;
let burst = 1;
let window = 1;
let scheduled = false;
// Set by the runner when this server runs with --cpu-prof: where to note when each phase
// (connect, broadcast) began and ended, so bench/profile.ts can keep one phase's samples.
const windowFile = process.env.BENCH_PROFILE_WINDOW;
const phases: Record<string, { from?: number; to?: number }> = {};

function notePhase(name: string, edge: 'from' | 'to'): void {
  (phases[name] ??= {})[edge] = nowUs();
  if (windowFile !== undefined) writeFileSync(windowFile, JSON.stringify(phases));
}

/** One round: `burst` broadcasts in the same tick (each to every client). */
function round(): void {
  scheduled = false;
  if (!running || inFlight >= window) return;
  inFlight++;
  for (let i = 0; i < burst; i++) {
    bench.broadcast(payloadOf(seq++, 0, payloadSize));
    sent++;
  }
  schedule();
}

function schedule(): void {
  if (scheduled || !running || inFlight >= window) return;
  scheduled = true;
  setImmediate(round);
}

function reply(id: number, body: object): void {
  process.send?.({ id, ...body });
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run the bench server with --expose-gc');
  for (let i = 0; i < 4; i++) collect();
}

process.on('message', (message: ServerRequest) => {
  switch (message.op) {
    case 'mem': {
      gc();
      const m = process.memoryUsage();
      reply(message.id, { heapUsed: m.heapUsed, external: m.external, rss: m.rss });
      break;
    }
    case 'count':
      reply(message.id, { n: bench.count() });
      break;
    case 'one': {
      const at = nowUs();
      bench.broadcast(payloadOf(message.seq, at, payloadSize));
      reply(message.id, {});
      break;
    }
    case 'run':
      burst = message.burst;
      window = message.window;
      running = true;
      inFlight = 0;
      notePhase('broadcast', 'from');
      schedule();
      reply(message.id, {});
      break;
    case 'ack':
      inFlight--;
      schedule();
      break;
    case 'snap': {
      const cpu = process.cpuUsage();
      reply(message.id, { cpu: cpu.user + cpu.system, t: nowUs(), sent });
      break;
    }
    case 'stop':
      running = false;
      notePhase('broadcast', 'to');
      reply(message.id, { sent });
      break;
    case 'phase':
      notePhase(message.name, message.edge);
      reply(message.id, {});
      break;
    case 'exit':
      void shutdown(message.id);
      break;
  }
});

// The runner going away (or failing) must never leave a listening server behind.
process.on('disconnect', () => process.exit(0));

async function shutdown(id: number): Promise<void> {
  const timer = setTimeout(() => process.exit(0), 2000);
  await bench.close();
  bench.server.close();
  bench.server.closeAllConnections();
  reply(id, {});
  clearTimeout(timer);
  // Exiting (rather than waiting for the loop to drain) makes --cpu-prof write its profile now.
  setImmediate(() => process.exit(0));
}

const address = bench.server.address() as AddressInfo;
process.send?.({ op: 'ready', port: address.port });
