// The load generator of the polling rows: real clients, not lean sockets, because what a
// polling transport costs the server depends on how its client polls. socket.io-client 4
// with `transports: ['polling']` (its long-polling over HTTP), and express-channel's own
// client with `transports: ['poll']` (the `'poll'` session transport). Speaks the same IPC
// protocol as bench/client.ts, so bench/run.ts drives it the same way.
import { io, type Socket } from 'socket.io-client';
import { connect, type Connection } from '../lib/client/node.js';
import { nowUs, type ClientEvent, type ClientRequest, type ClientSnap } from './protocol.js';

interface Client {
  received: number;
  close(): void;
}

interface Probe {
  count: number;
  first: number;
  last: number;
  sentAt: number;
}

let mode: 'latency' | 'throughput' = 'latency';
let burst = 1;
let delivered = 0;
let closed = 0;
let ready = 0;
let onReady: (() => void) | undefined;
const clients: Client[] = [];
const probes = new Map<number, Probe>();
const roundCounts = new Int32Array(256);

function send(event: ClientEvent | { id: number; [field: string]: unknown }): void {
  process.send?.(event);
}

/** A message of the bench ('#SEQ SENTAT …'), counted as bench/client.ts counts it. */
function onMessage(client: Client, text: string): void {
  if (text.charCodeAt(0) !== 0x23) return;
  delivered++;
  client.received++;
  if (mode === 'throughput') {
    if (client.received % burst !== 0) return;
    const slot = (client.received / burst) & 255;
    if (++roundCounts[slot]! === clients.length) {
      roundCounts[slot] = 0;
      send({ op: 'round' });
    }
    return;
  }
  const at = nowUs();
  const space = text.indexOf(' ');
  const seq = Number(text.slice(1, space));
  const sentAt = Number(text.slice(space + 1, text.indexOf(' ', space + 1)));
  let probe = probes.get(seq);
  if (probe === undefined) {
    probe = { count: 0, first: at, last: at, sentAt };
    probes.set(seq, probe);
  }
  probe.count++;
  probe.last = at;
  if (probe.count === clients.length) {
    probes.delete(seq);
    send({ op: 'one', seq, first: probe.first, last: probe.last, sentAt: probe.sentAt });
  }
}

function markReady(): void {
  ready++;
  onReady?.();
}

function openSocketIo(port: number): Client {
  const socket: Socket = io(`http://127.0.0.1:${port}`, { transports: ['polling'], reconnection: false, forceNew: true });
  const client: Client = { received: 0, close: () => socket.disconnect() };
  socket.once('connect', markReady);
  socket.on('m', (text: string) => onMessage(client, text));
  socket.on('disconnect', () => closed++);
  return client;
}

function openExpressChannel(port: number, path: string): Client {
  const conn: Connection = connect(`http://127.0.0.1:${port}${path}`, { transports: ['poll'] });
  const client: Client = { received: 0, close: () => conn.close() };
  let opened = false;
  conn.onopen = () => {
    if (opened) return; // a resume is not a new client
    opened = true;
    markReady();
  };
  conn.onmessage = (event) => onMessage(client, String(event.data));
  conn.onclose = () => closed++;
  return client;
}

/** Opens `n` clients, `concurrency` at a time; resolves with the elapsed ms. */
function connectAll(kind: string, port: number, path: string, n: number, concurrency: number): Promise<number> {
  const start = nowUs();
  let started = 0;
  const open = (): void => {
    started++;
    clients.push(kind === 'socketio-poll' ? openSocketIo(port) : openExpressChannel(port, path));
  };
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${ready} of ${n} clients connected in 60 s`)), 60_000);
    onReady = () => {
      if (started < n) open();
      if (ready === n) {
        clearTimeout(timer);
        onReady = undefined;
        resolve((nowUs() - start) / 1000);
      }
    };
    while (started < Math.min(n, concurrency)) open();
  });
}

process.on('message', (message: ClientRequest) => {
  switch (message.op) {
    case 'connect':
      connectAll(message.kind, message.port, message.path, message.n, message.concurrency).then(
        (ms) => send({ id: message.id, ms }),
        (error: Error) => send({ id: message.id, error: error.message }),
      );
      break;
    case 'mode':
      mode = message.mode;
      burst = message.burst;
      roundCounts.fill(0);
      for (const client of clients) client.received = 0;
      send({ id: message.id });
      break;
    case 'snap': {
      const cpu = process.cpuUsage();
      const snap: ClientSnap = { delivered, t: nowUs(), closed, cpu: cpu.user + cpu.system };
      send({ id: message.id, ...snap });
      break;
    }
    case 'exit':
      for (const client of clients) client.close();
      send({ id: message.id });
      setImmediate(() => process.exit(0));
      break;
  }
});

process.on('disconnect', () => process.exit(0));
process.send?.({ op: 'ready' });
