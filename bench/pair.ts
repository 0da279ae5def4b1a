// What a session costs a broadcast, measured paired (part of `npm run bench`; alone:
// `npm run bench:sessions`). One server
// process holds N plain channels and N session channels of the same transport, in two groups;
// it broadcasts to one group for a short phase, then to the other, alternating many times,
// and charges each phase every CPU microsecond the process spent in it (writes, reading the
// session clients' acknowledgements, garbage collection). Phases are short (BENCH_PHASE_MS)
// and interleaved, so a machine that gets slower or faster over a run moves both sides alike:
// sequential scenarios (bench/run.ts) drift by ±10–20 % on a shared machine, which is larger
// than the difference being measured.
//
// The server runs pinned to core 0, the load generator to core 1 (as in bench/run.ts).
//
// Environment:
//   BENCH_CLIENTS=1000,5000   channels per side (default 1000,5000)
//   BENCH_TRANSPORTS=websocket,sse
//   BENCH_PHASES=20           phases per side; BENCH_PHASE_MS=250
//   BENCH_BURST=20, BENCH_WINDOW=4, BENCH_PAYLOAD=64 (as bench/run.ts)
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { channels } from '../lib/index.js';
import { payloadOf } from './protocol.js';
import { withCarried } from './reading.js';

type Side = 'plain' | 'session';
export type Transport = 'websocket' | 'sse';
const sides: readonly Side[] = ['plain', 'session'];

const burst = Number(process.env.BENCH_BURST ?? 20);
const window = Number(process.env.BENCH_WINDOW ?? 4);
const payloadSize = Number(process.env.BENCH_PAYLOAD ?? 64);
const ackEvery = 512; // as the client library and bench/client.ts

// --- server ---

async function runServer(): Promise<void> {
  const app = express();
  const live = channels({ handshakeRate: Infinity }); // 5,000 clients connect at full speed
  const groups = { plain: live.group('plain'), session: live.group('session') };
  app.get('/live', live, (req) => {
    const channel = req.channel!;
    groups[channel.isSession ? 'session' : 'plain'].add(channel);
  });
  const server = createServer(app);
  live.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');

  let seq = 1;
  let inFlight = 0;
  let phase: { side: Side; until: number; done: () => void } | undefined;

  const round = (): void => {
    if (phase === undefined) return;
    if (performance.now() >= phase.until) {
      if (inFlight === 0) finish();
      return;
    }
    if (inFlight >= window) return;
    inFlight++;
    for (let i = 0; i < burst; i++) groups[phase.side].broadcast(payloadOf(seq++, 0, payloadSize));
    setImmediate(round);
  };
  const finish = (): void => {
    const done = phase?.done;
    phase = undefined;
    done?.();
  };

  process.on('message', (message: { op: string; side?: Side; ms?: number }) => {
    if (message.op === 'count') process.send?.({ op: 'count', plain: groups.plain.size, session: groups.session.size });
    else if (message.op === 'round') {
      inFlight--;
      round();
    } else if (message.op === 'phase') {
      const side = message.side!;
      const cpu0 = process.cpuUsage();
      const seq0 = seq;
      phase = {
        side,
        until: performance.now() + message.ms!,
        done: () => {
          const cpu = process.cpuUsage(cpu0);
          process.send?.({ op: 'phase', cpuUs: cpu.user + cpu.system, deliveries: (seq - seq0) * groups[side].size });
        },
      };
      round();
    } else if (message.op === 'exit') {
      void live.close().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ op: 'ready', port: (server.address() as AddressInfo).port });
}

// --- load generator: lean raw clients, as in bench/client.ts ---

interface Conn {
  side: Side;
  transport: Transport;
  open: boolean;
  tail: Buffer | undefined;
  received: number;
  messages: number;
}

const kConn = Symbol('pair.conn');
type ConnSocket = Socket & { [kConn]: Conn };

async function runClient(): Promise<void> {
  const shared = Buffer.allocUnsafe(256 * 1024);
  const perSide = { plain: 0, session: 0 };
  const roundCounts = { plain: new Int32Array(256), session: new Int32Array(256) };
  const sockets: ConnSocket[] = [];
  let onOpen = (): void => {};

  const countMessage = (conn: Conn): void => {
    conn.received++;
    if (conn.received % burst !== 0) return;
    const slot = (conn.received / burst) & 255;
    const counts = roundCounts[conn.side];
    if (++counts[slot]! === perSide[conn.side]) {
      counts[slot] = 0;
      process.send?.({ op: 'round' });
    }
  };

  const readFrames = (socket: ConnSocket, conn: Conn, data: Buffer, pos: number): number => {
    while (data.length - pos >= 2) {
      let size = data[pos + 1]! & 0x7f;
      let header = 2;
      if (size === 126) {
        if (data.length - pos < 4) break;
        size = data.readUInt16BE(pos + 2);
        header = 4;
      }
      const start = pos + header;
      if (start + size > data.length) break;
      const opcode = data[pos]! & 0x0f;
      if (opcode === 9) socket.write(maskedFrame(0x8a, data.subarray(start, start + size)));
      else if (opcode === 1 && (conn.side === 'plain' || data[start] === 0x6d /* 'm' */)) {
        // Session clients acknowledge as the client library does.
        if (conn.side === 'session' && ++conn.messages % ackEvery === 0) socket.write(maskedFrame(0x81, Buffer.from(`c{"type":"ack","seq":${conn.messages}}`)));
        countMessage(conn);
      }
      pos = start + size;
    }
    return pos;
  };

  const readEvents = (conn: Conn, data: Buffer, pos: number): number => {
    for (;;) {
      const end = data.indexOf('\n\n', pos);
      if (end < 0) return pos;
      const hash = data.indexOf('#', pos);
      if (hash >= 0 && hash < end) countMessage(conn);
      pos = end + 2;
    }
  };

  function onRead(this: ConnSocket, nread: number, buffer: Buffer): boolean {
    const conn = this[kConn];
    const data = withCarried(conn, buffer, nread);
    let pos = 0;
    if (!conn.open) {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        conn.tail = Buffer.from(data);
        return true;
      }
      conn.open = true;
      perSide[conn.side]++;
      onOpen();
      pos = end + 4;
    }
    const rest = conn.transport === 'sse' ? readEvents(conn, data, pos) : readFrames(this, conn, data, pos);
    if (rest < data.length) conn.tail = Buffer.from(data.subarray(rest));
    return true;
  }

  const open = (port: number, transport: Transport, side: Side): void => {
    const socket = connect({ host: '127.0.0.1', port, onread: { buffer: shared, callback: onRead as (n: number, b: Uint8Array) => boolean } }) as ConnSocket;
    socket[kConn] = { side, transport, open: false, tail: undefined, received: 0, messages: 0 };
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const path = side === 'session' ? (transport === 'sse' ? '/live?ecs=new&eco=1' : '/live?ecs=new') : '/live';
    const host = `Host: 127.0.0.1:${port}\r\n`;
    socket.write(
      transport === 'sse'
        ? `GET ${path} HTTP/1.1\r\n${host}Accept: text/event-stream\r\n\r\n`
        : `GET ${path} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    sockets.push(socket);
  };

  process.on('message', (message: { op: string; port?: number; transport?: Transport; n?: number }) => {
    if (message.op === 'connect') {
      const total = 2 * message.n!;
      let started = 0;
      // At most a few hundred handshakes outstanding, like bench/client.ts.
      onOpen = () => {
        const opened = perSide.plain + perSide.session;
        while (started < total && started - opened < 200) open(message.port!, message.transport!, started++ % 2 === 0 ? 'plain' : 'session');
        if (opened === total) process.send?.({ op: 'connected' });
      };
      onOpen();
    } else if (message.op === 'exit') {
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ op: 'ready' });
}

function maskedFrame(b0: number, payload: Buffer): Buffer {
  // An all-zero mask: valid, and the payload needs no XOR.
  return Buffer.concat([Buffer.from([b0, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

// --- runner ---

function child(role: 'server' | 'client', core: number): ChildProcess {
  const proc = fork(fileURLToPath(import.meta.url), [role], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (spawnSync('taskset', ['-V']).status === 0 && cpus().length >= 2 && proc.pid !== undefined) {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(proc.pid)], { stdio: 'ignore' });
  }
  return proc;
}

function next(proc: ChildProcess, op: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${op}' in ${timeoutMs} ms`)), timeoutMs);
    const listener = (message: Record<string, unknown>): void => {
      if (message.op !== op) return;
      clearTimeout(timer);
      proc.off('message', listener);
      resolve(message);
    };
    proc.on('message', listener);
  });
}

export interface PairedOutcome {
  transport: Transport;
  clients: number;
  /** Server CPU ns per delivery, summed over every phase of each side. */
  nsPerDelivery: Record<Side, number>;
  /** Session deliveries per CPU-second over plain deliveries per CPU-second. */
  ratio: number;
  /** The same ratio phase pair by phase pair: its spread shows how steady the machine was. */
  pairRatios: number[];
}

/** Runs one paired measurement: `n` plain and `n` session channels of `transport`. */
export async function measurePaired(transport: Transport, n: number, phases: number, phaseMs = 250): Promise<PairedOutcome> {
  const server = child('server', 0);
  const client = child('client', 1);
  try {
    const [{ port }] = (await Promise.all([next(server, 'ready'), next(client, 'ready')])) as [{ port: number }, unknown];
    client.on('message', (message: { op: string }) => {
      if (message.op === 'round') server.send({ op: 'round' });
    });
    client.send({ op: 'connect', port, transport, n });
    await next(client, 'connected', 120_000);
    for (let waited = 0; ; waited += 50) {
      server.send({ op: 'count' });
      const count = (await next(server, 'count')) as { plain: number; session: number };
      if (count.plain === n && count.session === n) break;
      if (waited > 30_000) throw new Error(`only ${count.plain} plain and ${count.session} session channels after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const runPhase = async (side: Side): Promise<{ cpuUs: number; deliveries: number }> => {
      server.send({ op: 'phase', side, ms: phaseMs });
      return (await next(server, 'phase')) as { cpuUs: number; deliveries: number };
    };
    // Warm-up: both sides, twice, so both paths are optimized before anything counts.
    for (let i = 0; i < 2; i++) for (const side of sides) await runPhase(side);
    const totals = { plain: { cpuUs: 0, deliveries: 0 }, session: { cpuUs: 0, deliveries: 0 } };
    const pairRatios: number[] = [];
    for (let i = 0; i < phases; i++) {
      // Alternate which side goes first, so neither always follows the other.
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      const got: Partial<Record<Side, { cpuUs: number; deliveries: number }>> = {};
      for (const side of order) {
        const r = await runPhase(side);
        got[side] = r;
        totals[side].cpuUs += r.cpuUs;
        totals[side].deliveries += r.deliveries;
      }
      pairRatios.push(got.plain!.cpuUs / got.plain!.deliveries / (got.session!.cpuUs / got.session!.deliveries));
    }
    const nsPerDelivery = { plain: (totals.plain.cpuUs * 1000) / totals.plain.deliveries, session: (totals.session.cpuUs * 1000) / totals.session.deliveries };
    return { transport, clients: n, nsPerDelivery, ratio: nsPerDelivery.plain / nsPerDelivery.session, pairRatios };
  } finally {
    server.send({ op: 'exit' });
    client.send({ op: 'exit' });
    await Promise.all([once(server, 'exit'), once(client, 'exit')]);
  }
}

/** One line of text for a paired outcome. */
export function describePaired(r: PairedOutcome): string {
  const sorted = [...r.pairRatios].sort((a, b) => a - b);
  return (
    `${r.transport.padEnd(9)} ${String(r.clients).padStart(5)} + ${r.clients} channels: plain ${r.nsPerDelivery.plain.toFixed(0)} ns, session ${r.nsPerDelivery.session.toFixed(0)} ns of server CPU per delivery → ` +
    `session ${r.ratio.toFixed(2)}× plain (phase pairs: median ${sorted[sorted.length >> 1]!.toFixed(2)}, range ${sorted[0]!.toFixed(2)}–${sorted[sorted.length - 1]!.toFixed(2)})`
  );
}

const role = process.argv[2];
const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (role === 'server') await runServer();
else if (role === 'client') await runClient();
else if (isMain) {
  const sizes = (process.env.BENCH_CLIENTS ?? '1000,5000').split(',').map(Number);
  const transports = (process.env.BENCH_TRANSPORTS ?? 'websocket,sse').split(',') as Transport[];
  const phases = Number(process.env.BENCH_PHASES ?? 20);
  const phaseMs = Number(process.env.BENCH_PHASE_MS ?? 250);
  console.log(`paired session bench: ${phases} phases of ${phaseMs} ms per side, burst ${burst}, window ${window}, ${payloadSize}-byte payload`);
  for (const transport of transports) {
    for (const n of sizes) {
      console.log(describePaired(await measurePaired(transport, n, phases, phaseMs)));
    }
  }
}
