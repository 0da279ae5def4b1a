// What the three benchmark processes say to each other over Node's IPC channel: the runner
// (bench/run.ts) drives a server (bench/server.ts, pinned to core 0) and a load generator
// (bench/client.ts, pinned to core 1). Every request carries an `id`; the reply echoes it.

/** The servers compared, one per table row. */
export type ServerKind =
  | 'ws-loop'
  | 'ws-corked'
  | 'socketio'
  | 'ec-ws'
  | 'ec-ws-session'
  | 'sse-loop'
  | 'sse-corked'
  | 'better-sse'
  | 'ec-sse'
  | 'ec-sse-session'
  | 'express-sse'
  // By hand what express-channel does for WebSocket: an Express route hands the upgrade to ws's handleUpgrade.
  | 'express-ws'
  // With a latency budget (channels({ flushInterval })), for the one-broadcast-per-tick rows (bench/tick.ts).
  | 'ec-ws-f2'
  | 'ec-ws-f10'
  | 'ec-sse-f10'
  // Polling, with real clients (bench/poll-client.ts): socket.io's transport and the 'poll' session transport.
  | 'socketio-poll'
  | 'ec-poll'
  | 'ec-poll-f10'
  // Cross-process rows (bench/cluster.ts): one of several processes joined through Redis.
  | 'ec-ws-redis'
  | 'socketio-redis';

/** How the load generator speaks to a server: raw WebSocket frames, engine.io over them, or SSE. */
export type ClientKind = 'ws' | 'socketio' | 'sse' | 'ws-session' | 'socketio-poll' | 'ec-poll';

export interface Row {
  kind: ServerKind;
  client: ClientKind;
  /** Request path (with query) the clients open. */
  path: string;
  label: string;
  transport: 'websocket' | 'sse' | 'poll';
  /** Diagnostic rows run only when named in BENCH_ROWS. */
  extra?: boolean;
}

export const rows: readonly Row[] = [
  { kind: 'ws-loop', client: 'ws', path: '/ws', label: 'ws, send per client', transport: 'websocket' },
  { kind: 'ws-corked', client: 'ws', path: '/ws', label: 'ws, frame once + cork', transport: 'websocket' },
  { kind: 'socketio', client: 'socketio', path: '/socket.io/?EIO=4&transport=websocket', label: 'socket.io 4 (websocket)', transport: 'websocket' },
  { kind: 'ec-ws', client: 'ws', path: '/live', label: 'express-channel ws', transport: 'websocket' },
  { kind: 'ec-ws-session', client: 'ws-session', path: '/live?ecs=new', label: 'express-channel ws session', transport: 'websocket' },
  { kind: 'sse-loop', client: 'sse', path: '/sse', label: 'raw SSE, res.write loop', transport: 'sse' },
  { kind: 'sse-corked', client: 'sse', path: '/sse', label: 'raw SSE, socket + cork', transport: 'sse' },
  { kind: 'better-sse', client: 'sse', path: '/sse', label: 'better-sse', transport: 'sse' },
  { kind: 'ec-sse', client: 'sse', path: '/live', label: 'express-channel sse', transport: 'sse' },
  // eco=1: the client counts events, as the client library does (no per-member id lines).
  { kind: 'ec-sse-session', client: 'sse', path: '/live?ecs=new&eco=1', label: 'express-channel sse session', transport: 'sse' },
  // By hand what the design does, without the library: an Express app routes the upgrade
  // (WebSocket) or writes the stream's headers itself (SSE). Against these, the table shows
  // what the library adds; against the raw rows, what Express costs.
  { kind: 'express-ws', client: 'ws', path: '/ws', label: 'Express + ws handleUpgrade, by hand (frame once + cork)', transport: 'websocket' },
  { kind: 'express-sse', client: 'sse', path: '/sse', label: 'Express + raw SSE, by hand (socket + cork)', transport: 'sse' },
];

/**
 * The servers of the one-broadcast-per-tick measurement (bench/tick.ts): a latency budget
 * against the servers that write every broadcast to every socket as it is made.
 */
export const tickRows: readonly Row[] = [
  { kind: 'ws-loop', client: 'ws', path: '/ws', label: 'ws, send per client', transport: 'websocket' },
  { kind: 'ws-corked', client: 'ws', path: '/ws', label: 'ws, frame once + cork for the tick', transport: 'websocket' },
  { kind: 'socketio', client: 'socketio', path: '/socket.io/?EIO=4&transport=websocket', label: 'socket.io 4 (websocket)', transport: 'websocket' },
  { kind: 'ec-ws', client: 'ws', path: '/live', label: 'express-channel ws, flushInterval 0', transport: 'websocket' },
  { kind: 'ec-ws-f2', client: 'ws', path: '/live', label: 'express-channel ws, flushInterval 2', transport: 'websocket' },
  { kind: 'ec-ws-f10', client: 'ws', path: '/live', label: 'express-channel ws, flushInterval 10', transport: 'websocket' },
  { kind: 'ec-sse', client: 'sse', path: '/live', label: 'express-channel sse, flushInterval 0', transport: 'sse' },
  { kind: 'ec-sse-f10', client: 'sse', path: '/live', label: 'express-channel sse, flushInterval 10', transport: 'sse' },
];

/**
 * The polling rows (bench/poll.ts), each with its library's own client in the load generator
 * (bench/poll-client.ts): socket.io-client 4 with `transports: ['polling']`, and
 * express-channel/client with `transports: ['poll']`.
 */
export const pollRows: readonly Row[] = [
  { kind: 'socketio-poll', client: 'socketio-poll', path: '/', label: 'socket.io 4 (polling, socket.io-client)', transport: 'poll' },
  { kind: 'ec-poll', client: 'ec-poll', path: '/live', label: "express-channel poll session (express-channel/client, transports: ['poll']), flushInterval 0", transport: 'poll' },
  { kind: 'ec-poll-f10', client: 'ec-poll', path: '/live', label: 'express-channel poll session, flushInterval 10', transport: 'poll' },
];

/**
 * The servers of the cross-process measurement (bench/cluster.ts). A `-redis` kind runs as one
 * of several processes sharing a Redis (BENCH_REDIS_URL, BENCH_REDIS_PREFIX); the single-process
 * kinds are the rows above, at the same total client count.
 */
export const clusterRows: readonly Row[] = [
  // The practical ceiling of one process (see bench/servers.ts), for scale.
  { kind: 'ws-corked', client: 'ws', path: '/ws', label: 'ws, frame once + cork, 1 process (ceiling)', transport: 'websocket' },
  { kind: 'ec-ws', client: 'ws', path: '/live', label: 'express-channel ws, 1 process', transport: 'websocket' },
  { kind: 'ec-ws-redis', client: 'ws', path: '/live', label: 'express-channel ws, 3 processes + redisAdapter', transport: 'websocket' },
  { kind: 'socketio', client: 'socketio', path: '/socket.io/?EIO=4&transport=websocket', label: 'socket.io 4, 1 process', transport: 'websocket' },
  { kind: 'socketio-redis', client: 'socketio', path: '/socket.io/?EIO=4&transport=websocket', label: 'socket.io 4, 3 processes + @socket.io/redis-adapter', transport: 'websocket' },
];

/** Runner → server. */
export type ServerRequest =
  | { op: 'mem'; id: number }
  | { op: 'count'; id: number }
  | { op: 'one'; id: number; seq: number }
  | { op: 'run'; id: number; burst: number; window: number }
  | { op: 'ack'; id: number }
  | { op: 'snap'; id: number }
  | { op: 'stop'; id: number }
  | { op: 'phase'; id: number; name: string; edge: 'from' | 'to' }
  | { op: 'exit'; id: number };

/** Runner → load generator. */
export type ClientRequest =
  // `ports`: spread the clients over several servers, round robin (then `port` is unused).
  | { op: 'connect'; id: number; port: number; ports?: number[]; path: string; kind: ClientKind; n: number; concurrency: number }
  | { op: 'mode'; id: number; mode: 'latency' | 'throughput'; burst: number }
  | { op: 'snap'; id: number }
  | { op: 'exit'; id: number };

export interface MemReply {
  heapUsed: number;
  external: number;
  rss: number;
}

export interface ServerSnap {
  /** process.cpuUsage() user + system, µs. */
  cpu: number;
  /** Monotonic clock, µs. */
  t: number;
  /** Broadcasts made. */
  sent: number;
}

export interface ClientSnap {
  delivered: number;
  /** process.cpuUsage() user + system, µs: shows whether the load generator kept up. */
  cpu: number;
  t: number;
  closed: number;
}

/** Unsolicited events of the load generator. */
export type ClientEvent =
  | { op: 'one'; seq: number; first: number; last: number; sentAt: number }
  | { op: 'round' };

/** Monotonic time in microseconds, on the same clock in every process on the machine (CLOCK_MONOTONIC). */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

/** A broadcast's text: a '#' marker, the sequence number and (for latency probes) the send time, padded. */
export function payloadOf(seq: number, sentAt: number, size: number): string {
  const head = `#${seq} ${Math.round(sentAt)} `;
  return head.length >= size ? head : head + padding.slice(0, size - head.length);
}
const padding = '.'.repeat(1024);
