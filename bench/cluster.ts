// The cross-process measurement (part of `npm run bench`; alone: `npm run bench:cluster`).
// Three server processes of the same app share one group through Redis; the load generator
// spreads its clients evenly over them (round robin) and one process broadcasts. Beside it:
// socket.io 4 with @socket.io/redis-adapter in the same topology on the same Redis, and one
// process of each holding every client, and the corked raw `ws` server (the ceiling) for
// scale. The figure compared is deliveries per second of server CPU time, summed over the
// servers of a row.
//
// Every server process is pinned to core 0 and the load generator to core 1, as in
// bench/run.ts; Redis is not ours (it is shared), so it runs where the kernel puts it and its
// CPU is read from INFO and shown beside the servers', never added to them.
//
// Environment:
//   REDIS_URL=redis://127.0.0.1:6379   where Redis is; without an answer the rows are skipped
//   BENCH_QUICK=1                     600 clients, short windows
//   BENCH_CLUSTER_CLIENTS=3000        clients in all (default 3000; quick 600)
//   BENCH_CLUSTER_PROCESSES=3         server processes of a cross-process row
//   BENCH_CLUSTER_BURSTS=1,20         broadcasts per tick; 80 broadcasts stay in flight either way
//   BENCH_CLUSTER_ROWS=a,b            only these rows (by id: ws-corked, ec-ws, ec-ws-redis,
//                                     ec-ws-redis-streams, ec-ws-redis-f10, socketio, socketio-redis)
//   BENCH_REPEAT=1, BENCH_PAYLOAD=64  as bench/run.ts
//   BENCH_DOC=1                       (with `npm run bench:cluster`) rewrite the cluster section of docs/performance.md
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient, type RedisClientType } from 'redis';
import { busyCores, cpuTimes, percentile, start, stop, type Child } from './children.js';
import { clusterRows, type ClientEvent, type ClientSnap, type Row, type ServerSnap } from './protocol.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const inFlight = 80; // broadcasts outstanding at most, whatever the burst: CPU, not round trips, limits
const concurrency = 200;

export interface ClusterSettings {
  quick: boolean;
  repeat: number;
  notes: string[];
}

export interface ClusterResult {
  kind: Row['kind'];
  /** The row's id: its kind, and `-streams` for the Redis adapter's streams mode. */
  id: string;
  label: string;
  processes: number;
  clients: number;
  burst: number;
  deliveriesPerSec: number;
  /** Deliveries per second of server CPU time, summed over the row's server processes. */
  deliveriesPerCpuSec: number;
  /** The row's server processes' CPU time / wall time, summed (1 = one core). */
  serverCpu: number;
  clientCpu: number;
  /** Redis's own CPU time / wall time (the whole Redis: other users of it included). */
  redisCpu: number;
  otherCpu: number;
  latencyP50: number;
  latencyP99: number;
  runs?: number;
}

type RedisClient = RedisClientType;

/** A row of the cross-process table: a server kind, and for express-channel the Redis adapter's mode. */
interface ClusterRow extends Row {
  id: string;
  redisMode?: 'streams';
  /** The latency budget of the express-channel servers (BENCH_FLUSH_INTERVAL), 0 when absent. */
  flushInterval?: number;
}

// Beside express-channel's pub/sub row, the same three processes in streams mode
// (BENCH_REDIS_MODE, read by bench/servers.ts).
const rows: readonly ClusterRow[] = clusterRows.flatMap((row): ClusterRow[] =>
  row.kind === 'ec-ws-redis'
    ? [
        { ...row, id: row.kind },
        { ...row, id: `${row.kind}-streams`, label: `${row.label} (streams mode)`, redisMode: 'streams' },
        // With a latency budget, broadcasts made one a tick coalesce too (issue 18).
        { ...row, id: `${row.kind}-f10`, label: `${row.label}, flushInterval 10`, flushInterval: 10 },
      ]
    : [{ ...row, id: row.kind }],
);

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Redis's CPU seconds so far (user + system), from INFO cpu. */
async function redisCpuSeconds(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Removes what a run left in Redis under its prefix (presence keys); nothing else. */
async function forget(redis: RedisClient, prefix: string): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) if (keys.length > 0) await redis.del(keys);
}

let runCounter = 0;

// The scenario under way, so that an interrupted run (Ctrl-C) still stops its servers — they
// take themselves out of the presence keys as they close — and deletes what is left under
// its prefix: the keys have no expiry, and the Redis is shared.
let underWay: { children: Child[]; redis: RedisClient; prefix: string } | undefined;

function onInterrupt(signal: NodeJS.Signals): void {
  const run = underWay;
  const cleanup = run === undefined ? Promise.resolve() : Promise.all(run.children.map(stop)).then(() => forget(run.redis, run.prefix));
  cleanup.catch(() => undefined).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

interface Timing {
  warmMs: number;
  measureMs: number;
  probeCount: number;
}

async function scenario(redis: RedisClient, row: ClusterRow, shape: { processes: number; clients: number; burst: number }, timing: Timing): Promise<ClusterResult> {
  const processes = row.kind.endsWith('-redis') ? shape.processes : 1;
  const n = shape.clients;
  const prefix = `bench-${process.pid}-${Date.now().toString(36)}-${runCounter++}`;
  const env = { ...process.env, BENCH_REDIS_URL: redisUrl, BENCH_REDIS_PREFIX: prefix, BENCH_REDIS_MODE: row.redisMode ?? 'pubsub', BENCH_FLUSH_INTERVAL: String(row.flushInterval ?? 0) };
  const box: { publisher?: Child } = {};
  const oneWaiters = new Map<number, (e: Extract<ClientEvent, { op: 'one' }>) => void>();
  const client = start('client.ts', [], 1, [], (event) => {
    if (event.op === 'round') box.publisher?.proc.send({ op: 'ack', id: 0 });
    else if (event.op === 'one') oneWaiters.get(event.seq)?.(event);
  });
  const servers = Array.from({ length: processes }, () => start('server.ts', [row.kind], 0, [], () => {}, env));
  box.publisher = servers[0]!;
  const all = (): Child[] => [...servers, client];
  underWay = { children: all(), redis, prefix };
  try {
    const ports = (await Promise.all(servers.map((s) => s.next('ready')))).map((r) => (r as { port: number }).port);
    await client.next('ready');
    await client.request({ op: 'connect', port: ports[0]!, ports, path: row.path, kind: row.client, n, concurrency }, 90_000);
    for (let waited = 0; ; waited += 20) {
      const counts = await Promise.all(servers.map((s) => s.request<{ n: number }>({ op: 'count' })));
      if (counts.reduce((a, c) => a + c.n, 0) >= n) break;
      if (waited > 5000) throw new Error(`servers count fewer than ${n} clients`);
      await sleep(20);
    }
    const base = (await client.request<ClientSnap>({ op: 'snap' })).delivered;

    await client.request({ op: 'mode', mode: 'latency', burst: 1 });
    const latencies: number[] = [];
    for (let seq = 1; seq <= timing.probeCount; seq++) {
      const got = new Promise<Extract<ClientEvent, { op: 'one' }>>((resolve) => oneWaiters.set(seq, resolve));
      await box.publisher.request({ op: 'one', seq });
      const probe = await Promise.race([got, sleep(10_000).then(() => undefined)]);
      if (probe === undefined) throw new Error(`latency probe ${seq} did not reach all ${n} clients`);
      latencies.push((probe.last - probe.sentAt) / 1000);
    }
    latencies.sort((a, b) => a - b);

    const window = Math.max(1, Math.round(inFlight / shape.burst));
    await client.request({ op: 'mode', mode: 'throughput', burst: shape.burst });
    await box.publisher.request({ op: 'run', burst: shape.burst, window });
    await sleep(timing.warmMs);
    const snap = async () => {
      const [s, c, r] = await Promise.all([Promise.all(servers.map((x) => x.request<ServerSnap>({ op: 'snap' }))), client.request<ClientSnap>({ op: 'snap' }), redisCpuSeconds(redis)]);
      return { s, c, r, m: cpuTimes() };
    };
    const a = await snap();
    await sleep(timing.measureMs);
    const b = await snap();
    const { sent } = await box.publisher.request<{ sent: number }>({ op: 'stop' });
    const expected = base + (sent + timing.probeCount) * n;
    let final = await client.request<ClientSnap>({ op: 'snap' });
    for (let waited = 0; final.delivered < expected && waited < 5000; waited += 50) {
      await sleep(50);
      final = await client.request<ClientSnap>({ op: 'snap' });
    }
    if (final.delivered !== expected) throw new Error(`${expected - final.delivered} of ${expected - base} deliveries missing after the run`);
    if (final.closed > 0) throw new Error(`${final.closed} clients closed during the run`);

    const wallUs = b.c.t - a.c.t;
    const delivered = b.c.delivered - a.c.delivered;
    // Each server's share of a core over its own window (IPC replies arrive at different times).
    const serverCpu = b.s.reduce((sum, s, i) => sum + (s.cpu - a.s[i]!.cpu) / (s.t - a.s[i]!.t), 0);
    const clientCpu = (b.c.cpu - a.c.cpu) / (b.c.t - a.c.t);
    const redisCpu = (b.r - a.r) / (wallUs / 1e6);
    return {
      kind: row.kind,
      id: row.id,
      label: row.label,
      processes,
      clients: n,
      burst: shape.burst,
      deliveriesPerSec: delivered / (wallUs / 1e6),
      // Rates over each process's own window: under load the snapshots' replies arrive at
      // different moments, and a count over one window divided by CPU over another would drift.
      deliveriesPerCpuSec: delivered / (wallUs / 1e6) / serverCpu,
      serverCpu,
      clientCpu,
      redisCpu,
      otherCpu: Math.max(0, busyCores(a.m, b.m) - serverCpu - clientCpu - redisCpu),
      latencyP50: percentile(latencies, 50),
      latencyP99: percentile(latencies, 99),
    };
  } finally {
    await Promise.all(all().map(stop));
    await forget(redis, prefix).catch(() => undefined);
    underWay = undefined;
  }
}

/** Keeps, of repeated runs of one row, the run with the most deliveries per server CPU-second (and the best latency). */
function bestOf(runs: readonly ClusterResult[]): ClusterResult[] {
  const merged = new Map<string, ClusterResult>();
  for (const r of runs) {
    const key = `${r.id}:${r.burst}`;
    const m = merged.get(key);
    if (m === undefined) {
      merged.set(key, { ...r, runs: 1 });
      continue;
    }
    const better = r.deliveriesPerCpuSec > m.deliveriesPerCpuSec ? r : m;
    const faster = r.latencyP50 < m.latencyP50 ? r : m;
    merged.set(key, { ...better, latencyP50: faster.latencyP50, latencyP99: faster.latencyP99, runs: (m.runs ?? 1) + 1 });
  }
  return [...merged.values()].sort((x, y) => x.burst - y.burst);
}

/** Runs every cross-process row (and its single-process twins) at each burst; [] with a note where Redis does not answer. */
export async function measureCluster(settings: ClusterSettings): Promise<ClusterResult[]> {
  const redis = createClient({ url: redisUrl, socket: { reconnectStrategy: false, connectTimeout: 2000 } }) as RedisClientType;
  redis.on('error', () => {}); // a failed connect rejects connect() below; nothing else is asked of it
  try {
    await redis.connect();
  } catch (error) {
    settings.notes.push(`cross-process rows skipped: no Redis answers at ${redisUrl} (${(error as Error).message}); set REDIS_URL`);
    return [];
  }
  process.once('SIGINT', onInterrupt).once('SIGTERM', onInterrupt);
  const clients = Number(process.env.BENCH_CLUSTER_CLIENTS ?? (settings.quick ? 600 : 3000));
  const processes = Number(process.env.BENCH_CLUSTER_PROCESSES ?? 3);
  const bursts = (process.env.BENCH_CLUSTER_BURSTS ?? '1,20').split(',').map(Number);
  const timing: Timing = settings.quick ? { warmMs: 300, measureMs: 1000, probeCount: 10 } : { warmMs: 500, measureMs: 2000, probeCount: 20 };
  const only = process.env.BENCH_CLUSTER_ROWS?.split(',');
  const chosen = rows.filter((row) => only === undefined || only.includes(row.id));
  const runs: ClusterResult[] = [];
  try {
    for (let rep = 0; rep < settings.repeat; rep++) for (const burst of bursts) for (const row of chosen) {
      const began = Date.now();
      try {
        const r = await scenario(redis, row, { processes, clients, burst }, timing);
        runs.push(r);
        console.log(
          `cluster ${row.id.padEnd(19)} ${r.processes}×${Math.round(clients / r.processes)} burst ${String(burst).padStart(2)}: ` +
            `${Math.round(r.deliveriesPerSec).toLocaleString('en-US')} deliveries/s, ${Math.round(r.deliveriesPerCpuSec).toLocaleString('en-US')} per server CPU-s ` +
            `(CPU servers ${(r.serverCpu * 100).toFixed(0)} %, client ${(r.clientCpu * 100).toFixed(0)} %, Redis ${(r.redisCpu * 100).toFixed(0)} %), ` +
            `p50 ${r.latencyP50.toFixed(1)} ms, other load ${r.otherCpu.toFixed(1)} cores [${((Date.now() - began) / 1000).toFixed(1)} s]`,
        );
      } catch (error) {
        console.log(`cluster ${row.id.padEnd(19)} burst ${burst}: FAILED: ${(error as Error).message}`);
        settings.notes.push(`cross-process ${row.id} at burst ${burst} failed: ${(error as Error).message}`);
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt).off('SIGTERM', onInterrupt);
    await redis.close();
  }
  return bestOf(runs);
}

const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

const ratios = [
  { name: 'express-channel, 3 processes + Redis vs 1 process', of: 'ec-ws-redis', to: 'ec-ws', target: '≥ 0.8×', meets: (v: number) => v >= 0.8 },
  { name: 'express-channel + Redis, streams mode vs pub/sub mode', of: 'ec-ws-redis-streams', to: 'ec-ws-redis', target: '≥ 0.7×', meets: (v: number) => v >= 0.7 },
  { name: 'express-channel vs socket.io, both 3 processes + Redis', of: 'ec-ws-redis', to: 'socketio-redis', target: '≥ 5×', meets: (v: number) => v >= 5 },
  { name: 'express-channel with flushInterval 10 vs socket.io, both 3 processes + Redis', of: 'ec-ws-redis-f10', to: 'socketio-redis', target: '≥ 5×', meets: (v: number) => v >= 5 },
  { name: 'socket.io, 3 processes + Redis vs 1 process', of: 'socketio-redis', to: 'socketio', target: '(for comparison)', meets: () => true },
  { name: 'ws frame once + cork, 1 process vs socket.io, 3 processes + Redis', of: 'ws-corked', to: 'socketio-redis', target: '(the most any server reaches)', meets: () => true },
] as const;

/** The cross-process table and its ratios, as Markdown. */
export function formatCluster(results: readonly ClusterResult[], notes: readonly string[] = []): string {
  if (results.length === 0) return notes.map((n) => `- note: ${n}`).join('\n') || '- note: no cross-process row ran';
  const lines = [
    '| server | processes × clients | broadcasts per tick | deliveries/s | deliveries / server CPU-s | server CPU (sum) | client CPU | Redis CPU | other load (cores) | broadcast p50 ms | broadcast p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.label} | ${r.processes} × ${int(r.clients / r.processes)} | ${r.burst} | ${int(r.deliveriesPerSec)} | ${int(r.deliveriesPerCpuSec)} | ${fixed(r.serverCpu * 100, 0)} % | ` +
        `${fixed(r.clientCpu * 100, 0)} % | ${fixed(r.redisCpu * 100, 0)} % | ${fixed(r.otherCpu, 1)} | ${fixed(r.latencyP50, 1)} | ${fixed(r.latencyP99, 1)} |`,
    );
  }
  const bursts = [...new Set(results.map((r) => r.burst))].sort((a, b) => a - b);
  lines.push('', `| deliveries per server CPU-second | ${bursts.map((b) => `${b} per tick`).join(' | ')} | target |`, `| --- | ${bursts.map(() => '---:').join(' | ')} | --- |`);
  for (const ratio of ratios) {
    const cells = bursts.map((burst) => {
      const a = results.find((r) => r.id === ratio.of && r.burst === burst);
      const b = results.find((r) => r.id === ratio.to && r.burst === burst);
      if (a === undefined || b === undefined) return '–';
      const v = a.deliveriesPerCpuSec / b.deliveriesPerCpuSec;
      return `${v.toFixed(2)}×${ratio.meets(v) ? '' : ' ✗'} (wall ${(a.deliveriesPerSec / b.deliveriesPerSec).toFixed(2)}×)`;
    });
    if (cells.some((c) => c !== '–')) lines.push(`| ${ratio.name} | ${cells.join(' | ')} | ${ratio.target} |`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((n) => `- note: ${n}`));
  return lines.join('\n');
}

/** Replaces the text between `<!-- bench:cluster:begin -->` and `<!-- bench:cluster:end -->` in docs/performance.md. */
export function writeClusterDoc(table: string): void {
  const docPath = `${here}/../docs/performance.md`;
  const doc = readFileSync(docPath, 'utf8');
  const begin = '<!-- bench:cluster:begin -->';
  const end = '<!-- bench:cluster:end -->';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${docPath} has no ${begin} … ${end} section`);
  writeFileSync(docPath, `${doc.slice(0, from + begin.length)}\n${table}\n${doc.slice(to)}`);
  console.log(`updated ${docPath}`);
}

// `npm run bench:cluster`: this measurement alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.env.BENCH_QUICK === '1';
  const notes: string[] = [];
  const results = await measureCluster({ quick, repeat: Number(process.env.BENCH_REPEAT ?? 1), notes });
  const table = formatCluster(results, notes);
  console.log(`\n${table}`);
  if (process.env.BENCH_DOC === '1' && !quick && results.length > 0) writeClusterDoc(table);
}
