// The load generator: thousands of lean raw-socket clients in one process, pinned to its own
// core. WebSocket clients write the upgrade request by hand and parse server frames with a
// few byte reads; SSE clients write a raw GET and split events on blank lines. Every read
// lands in one shared buffer (net's `onread`), so a client costs a socket and a few fields.
// A message counts when its payload carries the bench's '#' marker (so hellos, engine.io
// packets and control frames do not).
import { connect, type Socket } from 'node:net';
import { nowUs, type ClientEvent, type ClientKind, type ClientRequest, type ClientSnap } from './protocol.js';
import { withCarried } from './reading.js';

const kConn = Symbol('bench.conn');
const HASH = 0x23;
const LFLF = Buffer.from('\n\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const shared = Buffer.allocUnsafe(256 * 1024);

const enum State {
  Handshake,
  Open,
  Closed,
}

interface Conn {
  state: State;
  ready: boolean;
  /** Bytes of an incomplete frame/event (or response head) carried to the next read. */
  tail: Buffer | undefined;
  /** Marked messages received since the last mode change. */
  received: number;
  /** Session clients: messages ('m' frames) received, for acknowledgements. */
  sessionSeq: number;
}

type ConnSocket = Socket & { [kConn]: Conn };

interface Probe {
  count: number;
  first: number;
  last: number;
  sentAt: number;
}

let kind: ClientKind = 'ws';
let mode: 'latency' | 'throughput' = 'latency';
let burst = 1;
let delivered = 0;
let closed = 0;
let ready = 0;
let readAt = 0;
const sockets: ConnSocket[] = [];
const probes = new Map<number, Probe>();
// Rounds of `burst` messages completed by every client; at most `window` rounds are ever
// outstanding, so a small ring of counters is enough.
const roundCounts = new Int32Array(256);
let onReady: (() => void) | undefined;

function send(event: ClientEvent | { id: number; [field: string]: unknown }): void {
  process.send?.(event);
}

// --- reading ---

function onRead(this: ConnSocket, nread: number, buffer: Buffer): boolean {
  const conn = this[kConn];
  const data = withCarried(conn, buffer, nread);
  if (mode === 'latency') readAt = nowUs();
  let pos = 0;
  if (conn.state === State.Handshake) {
    const end = data.indexOf(HEAD_END);
    if (end < 0) {
      conn.tail = Buffer.from(data);
      return true;
    }
    const status = data.toString('latin1', 9, 12);
    const expected = kind === 'sse' ? '200' : '101';
    if (status !== expected) {
      console.error(`bench client: expected ${expected}, got: ${data.toString('latin1', 0, Math.min(end, 200))}`);
      this.destroy();
      return false;
    }
    conn.state = State.Open;
    // socket.io clients are ready once the namespace CONNECT is answered (see onFrame).
    if (kind !== 'socketio') markReady(conn);
    pos = end + 4;
  }
  const rest = kind === 'sse' ? readEvents(conn, data, pos) : readFrames(this, conn, data, pos);
  if (rest < data.length) conn.tail = Buffer.from(data.subarray(rest));
  return true;
}

/** Parses server frames (never masked) from `pos`; returns where the incomplete rest starts. */
function readFrames(socket: ConnSocket, conn: Conn, data: Buffer, pos: number): number {
  const length = data.length;
  while (length - pos >= 2) {
    const b0 = data[pos]!;
    let size = data[pos + 1]! & 0x7f;
    let header = 2;
    if (size === 126) {
      if (length - pos < 4) break;
      size = data.readUInt16BE(pos + 2);
      header = 4;
    } else if (size === 127) {
      if (length - pos < 10) break;
      size = data.readUInt32BE(pos + 6);
      header = 10;
    }
    const start = pos + header;
    const end = start + size;
    if (end > length) break;
    const opcode = b0 & 0x0f;
    if (opcode === 1 || opcode === 2) onFrame(socket, conn, data, start, end);
    else if (opcode === 9) writeFrame(socket, 0x8a, data.subarray(start, end)); // ping → pong
    pos = end;
  }
  return pos;
}

function onFrame(socket: ConnSocket, conn: Conn, data: Buffer, start: number, end: number): void {
  const first = data[start];
  if (kind === 'socketio' && first !== 0x34 /* '4' */) {
    // engine.io: '0' is the open packet (answer with a namespace CONNECT), '2' a ping.
    if (first === 0x30) writeFrame(socket, 0x81, Buffer.from('40'));
    else if (first === 0x32) writeFrame(socket, 0x81, Buffer.from('3'));
    return;
  }
  if (kind === 'socketio' && !conn.ready) {
    if (data[start + 1] === 0x30) markReady(conn); // '40{"sid":…}': connected to the namespace
    return;
  }
  if (kind === 'ws-session') {
    if (first !== 0x6d /* 'm' */) return; // 'c': control (hello, acks)
    // Acknowledge every 512 messages (as the client library does) so the replay buffer stays small.
    if (++conn.sessionSeq % 512 === 0) writeFrame(socket, 0x81, Buffer.from(`c{"type":"ack","seq":${conn.sessionSeq}}`));
  }
  const hash = data.indexOf(HASH, start);
  if (hash >= 0 && hash < end) onMessage(conn, data, hash);
}

/** Splits SSE events on blank lines from `pos`; returns where the incomplete rest starts. */
function readEvents(conn: Conn, data: Buffer, pos: number): number {
  for (;;) {
    const end = data.indexOf(LFLF, pos);
    if (end < 0) return pos;
    const hash = data.indexOf(HASH, pos);
    if (hash >= 0 && hash < end) onMessage(conn, data, hash);
    pos = end + 2;
  }
}

function onMessage(conn: Conn, data: Buffer, hash: number): void {
  delivered++;
  conn.received++;
  if (mode === 'throughput') {
    if (conn.received % burst !== 0) return;
    const slot = (conn.received / burst) & 255;
    if (++roundCounts[slot]! === sockets.length) {
      roundCounts[slot] = 0;
      send({ op: 'round' });
    }
    return;
  }
  // Latency probe: '#SEQ SENTAT '.
  let i = hash + 1;
  let seq = 0;
  for (let c = data[i]!; c >= 0x30 && c <= 0x39; c = data[++i]!) seq = seq * 10 + c - 0x30;
  let sentAt = 0;
  for (let c = data[++i]!; c >= 0x30 && c <= 0x39; c = data[++i]!) sentAt = sentAt * 10 + c - 0x30;
  let probe = probes.get(seq);
  if (probe === undefined) {
    probe = { count: 0, first: readAt, last: readAt, sentAt };
    probes.set(seq, probe);
  }
  probe.count++;
  probe.last = readAt;
  if (probe.count === sockets.length) {
    probes.delete(seq);
    send({ op: 'one', seq, first: probe.first, last: probe.last, sentAt: probe.sentAt });
  }
}

/** A masked client frame (all-zero mask: valid, and the payload needs no XOR). */
function writeFrame(socket: Socket, b0: number, payload: Buffer): void {
  const head = Buffer.from([b0, 0x80 | payload.length, 0, 0, 0, 0]);
  socket.write(Buffer.concat([head, payload]));
}

// --- connecting ---

function markReady(conn: Conn): void {
  if (conn.ready) return;
  conn.ready = true;
  ready++;
  onReady?.();
}

function requestText(path: string, port: number): string {
  const host = `Host: 127.0.0.1:${port}\r\n`;
  if (kind === 'sse') return `GET ${path} HTTP/1.1\r\n${host}Accept: text/event-stream\r\n\r\n`;
  return (
    `GET ${path} HTTP/1.1\r\n${host}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  );
}

function onClose(this: ConnSocket): void {
  const conn = this[kConn];
  if (conn.state !== State.Closed && conn.ready) closed++;
  conn.state = State.Closed;
}

function onError(this: ConnSocket, error: Error): void {
  if (!this[kConn].ready) console.error('bench client: connect failed:', error.message);
}

/** Opens `n` clients, `concurrency` handshakes at a time, spread over `ports`; resolves with the elapsed ms. */
async function connectAll(ports: readonly number[], path: string, n: number, concurrency: number): Promise<number> {
  const requests = ports.map((port) => requestText(path, port));
  const start = nowUs();
  let started = 0;
  const open = (): void => {
    const which = started % ports.length;
    started++;
    const socket = connect({ host: '127.0.0.1', port: ports[which]!, onread: { buffer: shared, callback: onRead as (n: number, b: Uint8Array) => boolean } }) as ConnSocket;
    socket[kConn] = { state: State.Handshake, ready: false, tail: undefined, received: 0, sessionSeq: 0 };
    socket.setNoDelay(true);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(requests[which]!);
    sockets.push(socket);
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${ready} of ${n} clients connected in 60 s`)), 60_000);
    onReady = () => {
      if (started < n) open();
      if (ready === n) {
        clearTimeout(timer);
        resolve();
      }
    };
    while (started < Math.min(n, concurrency)) open();
  });
  onReady = undefined;
  return (nowUs() - start) / 1000;
}

process.on('message', (message: ClientRequest) => {
  switch (message.op) {
    case 'connect':
      kind = message.kind;
      connectAll(message.ports ?? [message.port], message.path, message.n, message.concurrency).then(
        (ms) => send({ id: message.id, ms }),
        (error: Error) => send({ id: message.id, error: error.message }),
      );
      break;
    case 'mode':
      mode = message.mode;
      burst = message.burst;
      roundCounts.fill(0);
      for (const socket of sockets) socket[kConn].received = 0;
      send({ id: message.id });
      break;
    case 'snap': {
      const cpu = process.cpuUsage();
      const snap: ClientSnap = { delivered, t: nowUs(), closed, cpu: cpu.user + cpu.system };
      send({ id: message.id, ...snap });
      break;
    }
    case 'exit':
      for (const socket of sockets) socket.destroy();
      send({ id: message.id });
      setImmediate(() => process.exit(0));
      break;
  }
});

process.on('disconnect', () => process.exit(0));
process.send?.({ op: 'ready' });
